"""Checkpoints: safetensors weights with the config inside (no pickled code), a readable
``config.json`` copy, and conversion to/from state dicts saved by the official TRM code.

A checkpoint folder holds one atomic pair: ``model.safetensors`` stores the weights *and* the
config JSON (metadata key ``trm_config``), so weights and config can never come from two
different saves. ``config.json`` is a human-readable copy written right after; when it disagrees
with the stored config (an interrupted save, a hand edit) loading warns and uses the stored one.
Folders from before the metadata existed fall back to ``config.json``.

The same format serves the three kinds of model (:mod:`trm_rl.model.registry`): the config JSON
carries ``"kind"`` ("trm", "mlp" or "convnet"); a config without it is a TRM's (older saves).

Official key names (``_orig_mod.`` present when the model was compiled)::

    _orig_mod.model.inner.embed_tokens.embedding_weight    -> embed_tokens.weight
    _orig_mod.model.inner.embed_pos.embedding_weight       -> embed_pos.weight
    _orig_mod.model.inner.puzzle_emb.weights               -> puzzle_emb.weight (buffer)
    _orig_mod.model.inner.L_level.layers.{i}.self_attn.*   -> net.layers.{i}.attn.*
    _orig_mod.model.inner.L_level.layers.{i}.mlp_t.*       -> net.layers.{i}.seq_mlp.*
    _orig_mod.model.inner.L_level.layers.{i}.mlp.*         -> net.layers.{i}.mlp.*
    lm_head.*, q_head.*, H_init, L_init                    -> same names (H/L_init: bf16 -> fp32)
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from envs.utils import atomic_write, atomic_write_file
from trm_rl.model.registry import MODEL_CLASSES, Model, ModelConfig, build_model, config_from_dict
from trm_rl.model.trm import TRM
from trm_rl.utils import resolve_device

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
#: Metadata key of ``model.safetensors`` that holds the config JSON.
CONFIG_METADATA_KEY = "trm_config"

# Official names that are non-persistent there (never saved by the official code, but accepted).
_OFFICIAL_TRANSIENT = ("puzzle_emb.local_weights", "puzzle_emb.local_ids", "rotary_emb.")

# (official fragment, ours); applied in order, official -> ours.
_RENAMES = (
    ("embed_tokens.embedding_weight", "embed_tokens.weight"),
    ("embed_pos.embedding_weight", "embed_pos.weight"),
    ("puzzle_emb.weights", "puzzle_emb.weight"),
    ("L_level.", "net."),
    ("H_level.", "net_H."),
    (".self_attn.", ".attn."),
    (".mlp_t.", ".seq_mlp."),
)


# ------------------------------------------------------------------------------- save and load
def save_checkpoint(model: Model, directory: str | os.PathLike) -> Path:
    """Write ``model.safetensors`` (parameters and persistent buffers, incl. the puzzle table,
    with the config JSON in its metadata) and then its copy ``config.json`` into ``directory``
    (created if needed); each file atomically.

    :param model: a :class:`TRM`, :class:`MLPModel` or :class:`ConvNetModel`.
    :param directory: target folder.
    :return: the folder.
    """
    if not isinstance(model, MODEL_CLASSES):
        raise ValueError(
            f"save_checkpoint needs a TRM, MLPModel or ConvNetModel, got {type(model).__name__}"
        )
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} is a file, not a folder; pass a folder for the checkpoint")
    config_json = json.dumps(model.config.to_dict(), indent=2, sort_keys=True) + "\n"
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {CONFIG_METADATA_KEY: config_json, "format": "pt"}
    # Weights first: they carry the config, so the pair is complete once this rename is done.
    atomic_write_file(
        directory / WEIGHTS_NAME, lambda tmp: save_file(tensors, tmp, metadata=metadata)
    )
    with atomic_write(directory / CONFIG_NAME) as f:
        f.write(config_json)
    return directory


def load_config(directory: str | os.PathLike) -> ModelConfig:
    """The config of a checkpoint folder: the one stored in ``model.safetensors`` (written
    together with the weights), else ``config.json`` (older checkpoints).

    Warns when ``config.json`` disagrees with the stored config, and says which one is used.

    :param directory: checkpoint folder.
    :raises FileNotFoundError: the folder or both files are missing.
    :raises ValueError: a file is corrupt or holds an invalid config.
    """
    directory = _checkpoint_folder(directory)
    weights, copy_path = directory / WEIGHTS_NAME, directory / CONFIG_NAME
    stored = _stored_config(weights) if weights.exists() else None
    if stored is None:
        if not copy_path.exists():
            raise FileNotFoundError(
                f"{directory} has no {CONFIG_NAME} and no {WEIGHTS_NAME} with a stored config; "
                "pass a folder written by save_checkpoint"
            )
        return _read_config_json(copy_path)
    if copy_path.exists():
        try:
            copy = _read_config_json(copy_path)
            problem = _config_difference(stored, copy)
        except ValueError as err:
            problem = f"it cannot be read ({err})"
        if problem:
            warnings.warn(
                f"{copy_path} disagrees with the config stored in {weights}: {problem}. Using the "
                f"config stored in {WEIGHTS_NAME}, which was written together with the weights "
                f"({CONFIG_NAME} is only a copy, stale after an interrupted save or edited by "
                "hand); save the checkpoint again to rewrite the copy",
                UserWarning,
                stacklevel=2,
            )
    return stored


def load_checkpoint(directory: str | os.PathLike, device: str | torch.device = "cpu") -> Model:
    """Rebuild a model (:class:`TRM`, :class:`MLPModel` or :class:`ConvNetModel`, after the
    config's kind) from a folder written by :func:`save_checkpoint`.

    :param directory: checkpoint folder.
    :param device: where to put the model ("auto": CUDA when available, else CPU).
    :raises FileNotFoundError: the folder or the weights are missing.
    :raises ValueError: an unknown or unavailable device, a corrupt file, or weights that do not
        fit the config.
    :return: the model (in training mode, as after construction).
    """
    device = resolve_device(device)
    directory = _checkpoint_folder(directory)
    config = load_config(directory)
    weights = directory / WEIGHTS_NAME
    if not weights.exists():
        raise FileNotFoundError(
            f"{directory} has {CONFIG_NAME} but no {WEIGHTS_NAME}; the save did not complete: "
            "save the checkpoint again or restore the weights file"
        )
    try:
        state = load_file(str(weights), device=str(device))
    except (SafetensorError, OSError) as err:
        raise ValueError(_corrupt_message(weights, err)) from err
    with torch.device(device):
        model = build_model(config)
    problems = _state_dict_problems(model.state_dict(), state, {k: k for k in state})
    if problems:
        raise ValueError(
            f"{weights} does not fit its config (weights and config of different models?); "
            "save the checkpoint again:\n" + "\n".join(problems)
        )
    model.load_state_dict(state, strict=True)
    return model


def _checkpoint_folder(directory: str | os.PathLike) -> Path:
    directory = Path(directory)
    if not directory.exists():
        raise FileNotFoundError(
            f"checkpoint folder {directory} does not exist; pass the folder given to "
            "save_checkpoint"
        )
    if not directory.is_dir():
        raise ValueError(
            f"{directory} is a file; pass the checkpoint folder that holds {WEIGHTS_NAME} and "
            f"{CONFIG_NAME}"
        )
    return directory


def _corrupt_message(path: Path, err: BaseException) -> str:
    return (
        f"{path} is not a readable safetensors file ({err}); it is truncated or corrupt: "
        "restore it from a backup or save the checkpoint again"
    )


def _stored_config(weights: Path) -> ModelConfig | None:
    """The config in the metadata of ``weights``, or None when it has none (old checkpoint)."""
    try:
        with safe_open(str(weights), framework="pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError) as err:
        raise ValueError(_corrupt_message(weights, err)) from err
    text = metadata.get(CONFIG_METADATA_KEY)
    if text is None:
        return None
    try:
        return config_from_dict(json.loads(text))
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"the config stored in {weights} (metadata {CONFIG_METADATA_KEY!r}) is invalid: "
            f"{err}; save the checkpoint again"
        ) from err


def _read_config_json(path: Path) -> ModelConfig:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(
            f"{path} is not readable JSON ({err}); restore it or save the checkpoint again"
        ) from err
    try:
        return config_from_dict(data)
    except ValueError as err:
        raise ValueError(f"{path} holds an invalid config: {err}") from err


def _config_difference(stored: ModelConfig, copy: ModelConfig) -> str:
    """'' when equal, else the differing fields as ``name: stored vs copy`` (the kind first)."""
    a, b = stored.to_dict(), copy.to_dict()
    keys = list(a) + [k for k in b if k not in a]
    diffs = [
        f"{k}: {a.get(k)!r} in {WEIGHTS_NAME} vs {b.get(k)!r}" for k in keys if a.get(k) != b.get(k)
    ]
    return "; ".join(diffs)


def _state_dict_problems(
    ours: Mapping[str, torch.Tensor], given: Mapping[str, Any], sources: Mapping[str, str]
) -> list[str]:
    """Every reason why ``given`` cannot be copied into ``ours`` (empty: it can).

    :param ours: the model's state dict.
    :param given: name (ours) -> value to load.
    :param sources: name (ours) -> the name it had in the input, for messages.
    """

    def entry(key: str, detail: str = "") -> str:
        text = f"{key}: {detail}" if detail else key
        return text if sources[key] == key else f"{text} (input key {sources[key]})"

    missing = sorted(set(ours) - set(given))
    unexpected = sorted(entry(k) for k in set(given) - set(ours))
    not_tensors, bad_dtypes, mismatched = [], [], []
    for key in sorted(set(ours) & set(given)):
        value, target = given[key], ours[key]
        if not isinstance(value, torch.Tensor):
            not_tensors.append(entry(key, type(value).__name__))
        elif value.is_meta or value.layout != torch.strided:
            not_tensors.append(entry(key, f"a {value.layout} tensor on {value.device} (no data)"))
        elif value.shape != target.shape:
            detail = f"checkpoint {tuple(value.shape)} vs model {tuple(target.shape)}"
            mismatched.append(entry(key, detail))
        elif not _converts(value.dtype, target.dtype):
            bad_dtypes.append(entry(key, f"{value.dtype} cannot become {target.dtype}"))
    problems = []
    for label, items in (
        ("missing keys", missing),
        ("unexpected keys", unexpected),
        ("shape mismatches", mismatched),
        ("values that are not tensors", not_tensors),
        ("dtypes that do not convert", bad_dtypes),
    ):
        if items:
            problems.append(f"  {label}: {items}")
    return problems


def _converts(source: torch.dtype, target: torch.dtype) -> bool:
    """Whether values of ``source`` keep their meaning in ``target`` (same kind of number)."""

    def kind(dtype: torch.dtype) -> str:
        if dtype == torch.bool:
            return "bool"
        if dtype.is_complex:
            return "complex"
        return "float" if dtype.is_floating_point else "int"

    return kind(source) == kind(target)


# ------------------------------------------------------------------------ official checkpoints
def from_official_key(key: str) -> str:
    """Map one official state-dict key to ours (prefixes ``_orig_mod.``/``model.``/``inner.``
    are dropped)."""
    for prefix in ("_orig_mod.", "model.", "inner."):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    for official, ours in _RENAMES:
        key = key.replace(official, ours)
    return key


def to_official_state_dict(model: TRM, compiled_prefix: bool = True) -> dict[str, torch.Tensor]:
    """Our weights under the official names (as saved by the official ``pretrain.py``).

    :param model: the model.
    :param compiled_prefix: prepend ``_orig_mod.`` (official checkpoints of compiled models).
    :return: state dict; ``H_init``/``L_init`` in the model's forward dtype, as upstream.
    """
    prefix = ("_orig_mod." if compiled_prefix else "") + "model.inner."
    out = {}
    for key, value in model.state_dict().items():
        name = key
        for official, ours in reversed(_RENAMES):
            name = name.replace(ours, official)
        if key in ("H_init", "L_init"):
            value = value.to(model.dtype)
        out[prefix + name] = value.detach().clone()
    return out


def load_official_state_dict(model: TRM, state_dict: Mapping[str, torch.Tensor]) -> TRM:
    """Load weights saved by the official TRM code into ``model`` (in place), all or nothing.

    Accepts keys with or without ``_orig_mod.``, ``model.`` and ``inner.``; converts dtypes
    (bf16 ``H_init``/``L_init`` -> float32) exactly; ignores the official non-persistent names.
    Everything is checked before anything is copied, so on an error ``model`` is unchanged.

    :param model: a :class:`TRM` built with the matching config (see
        :meth:`TRMConfig.from_official`).
    :param state_dict: e.g. ``torch.load(path, map_location="cpu", weights_only=True)``.
    :raises ValueError: listing two names for one weight, missing keys, unexpected keys, shape
        mismatches, values that are not tensors and dtypes of another kind (complex, bool or
        integer where a float is stored).
    :return: ``model``.
    """
    if not isinstance(model, TRM):
        raise ValueError(f"load_official_state_dict needs a TRM, got {type(model).__name__}")
    if not isinstance(state_dict, Mapping):
        raise ValueError(
            f"state_dict must be a dict of name -> tensor, got {type(state_dict).__name__}; "
            "load it with torch.load(path, map_location='cpu', weights_only=True)"
        )
    ours = model.state_dict()
    mapped: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise ValueError(f"state dict keys must be strings, got {key!r}")
        if any(t in key for t in _OFFICIAL_TRANSIENT):
            continue
        name = from_official_key(key)
        if name in mapped:
            raise ValueError(
                f"state dict keys {sources[name]!r} and {key!r} both name the weight {name!r}; "
                "keep one of them (a state dict mixing compiled '_orig_mod.' and plain names?)"
            )
        mapped[name], sources[name] = value, key
    problems = _state_dict_problems(ours, mapped, sources)
    if problems:
        raise ValueError(
            "official state dict does not match this TRM config "
            "(build the model with TRMConfig.from_official(<the run's arch config>)); nothing "
            "was loaded:\n" + "\n".join(problems)
        )
    # Convert everything first: a failure here still leaves the model untouched.
    converted = {
        key: mapped[key].detach().to(dtype=target.dtype, device=target.device)
        for key, target in ours.items()
    }
    with torch.no_grad():
        for key, target in ours.items():
            target.copy_(converted[key])
    return model
