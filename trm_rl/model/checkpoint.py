"""Checkpoints: safetensors weights + ``config.json`` (no pickled code), written atomically, and
conversion to/from state dicts saved by the official TRM code.

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
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from trm_rl.model.config import TRMConfig
from trm_rl.model.trm import TRM

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"

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


def _atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` on a temp file in ``path``'s folder, then ``os.replace`` it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_checkpoint(model: TRM, directory: str | os.PathLike) -> Path:
    """Write ``model.safetensors`` (parameters and persistent buffers, incl. the puzzle table)
    and ``config.json`` into ``directory`` (created if needed); each file atomically.

    :param model: the model.
    :param directory: target folder.
    :return: the folder.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _atomic_write(directory / WEIGHTS_NAME, lambda tmp: save_file(tensors, tmp))

    def write_config(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(model.config.to_dict(), f, indent=2, sort_keys=True)
            f.write("\n")

    _atomic_write(directory / CONFIG_NAME, write_config)
    return directory


def load_config(directory: str | os.PathLike) -> TRMConfig:
    """Read ``config.json`` from a checkpoint folder."""
    with open(Path(directory) / CONFIG_NAME) as f:
        return TRMConfig.from_dict(json.load(f))


def load_checkpoint(directory: str | os.PathLike, device: str | torch.device = "cpu") -> TRM:
    """Rebuild a :class:`TRM` from a folder written by :func:`save_checkpoint`.

    :param directory: checkpoint folder.
    :param device: where to put the model.
    :return: the model (in training mode, as after construction).
    """
    config = load_config(directory)
    with torch.device(device):
        model = TRM(config)
    state = load_file(str(Path(directory) / WEIGHTS_NAME), device=str(device))
    model.load_state_dict(state, strict=True)
    return model


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


def load_official_state_dict(model: TRM, state_dict: dict[str, torch.Tensor]) -> TRM:
    """Load weights saved by the official TRM code into ``model`` (in place).

    Accepts keys with or without ``_orig_mod.``, ``model.`` and ``inner.``; converts dtypes
    (bf16 ``H_init``/``L_init`` -> float32) exactly; ignores the official non-persistent names.

    :param model: a :class:`TRM` built with the matching config (see
        :meth:`TRMConfig.from_official`).
    :param state_dict: e.g. ``torch.load(path, map_location="cpu", weights_only=True)``.
    :raises ValueError: listing missing keys, unexpected keys and shape mismatches.
    :return: ``model``.
    """
    ours = model.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if any(t in key for t in _OFFICIAL_TRANSIENT):
            continue
        mapped[from_official_key(key)] = value
    missing = sorted(set(ours) - set(mapped))
    unexpected = sorted(set(mapped) - set(ours))
    mismatched = [
        f"{k}: checkpoint {tuple(mapped[k].shape)} vs model {tuple(ours[k].shape)}"
        for k in sorted(set(ours) & set(mapped))
        if mapped[k].shape != ours[k].shape
    ]
    if missing or unexpected or mismatched:
        raise ValueError(
            "official state dict does not match this TRM config "
            "(build the model with TRMConfig.from_official(<the run's arch config>)):\n"
            f"  missing keys: {missing}\n  unexpected keys: {unexpected}\n"
            f"  shape mismatches: {mismatched}"
        )
    with torch.no_grad():
        for key, target in ours.items():
            target.copy_(mapped[key].to(dtype=target.dtype, device=target.device))
    return model
