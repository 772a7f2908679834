"""Malformed input at every model boundary fails with one clear error, and nothing half-happens.

TRMConfig fields (each field x wrong types and values), TRM batches (forward, initial_carry,
solve), checkpoint folders (missing, corrupt, interrupted saves) and official state dicts (the
import is all or nothing). Each case asserts the error type and a phrase of its message.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings

import numpy as np
import pytest
import torch
from conftest import make_batch as shared_make_batch
from conftest import tiny_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.torch import save_file

import trm_rl.model.checkpoint as ckpt
from trm_rl.model import PRESETS, TRM, TRMConfig
from trm_rl.model.checkpoint import (
    CONFIG_METADATA_KEY,
    CONFIG_NAME,
    WEIGHTS_NAME,
    load_checkpoint,
    load_config,
    load_official_state_dict,
    save_checkpoint,
    to_official_state_dict,
)
from trm_rl.model.losses import IGNORE_LABEL_ID, act_loss, stablemax_cross_entropy
from trm_rl.utils import set_seed

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tiny(**changes) -> TRMConfig:
    base = dict(
        seq_len=12, num_layers=1, H_cycles=2, L_cycles=1, halt_max_steps=3,
        halt_exploration_prob=0.1,
    )  # fmt: skip
    return tiny_config(**{**base, **changes})


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model() -> TRM:
    torch.manual_seed(0)
    return TRM(tiny()).eval()


def make_batch(cfg: TRMConfig, size: int = 3, seed: int = 0) -> dict[str, torch.Tensor]:
    return shared_make_batch(cfg, size, seed, low=0)


def snapshot(model: TRM) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_unchanged(model: TRM, before: dict[str, torch.Tensor]) -> None:
    after = model.state_dict()
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert torch.equal(after[key], value), f"{key} changed by a failed load"


# ------------------------------------------------------------------------------------ TRMConfig
INT_LOWS = {
    "vocab_size": 2, "seq_len": 1, "hidden_size": 1, "num_heads": 1, "num_layers": 1,
    "H_cycles": 1, "L_cycles": 1, "puzzle_emb_len": 0, "num_puzzle_identifiers": 0,
    "halt_max_steps": 1, "swiglu_multiple": 1,
}  # fmt: skip
POSITIVE_FLOATS = ("expansion", "rms_norm_eps", "rope_theta")
BOOLS = ("act", "q_continue", "separate_networks", "single_z", "full_backprop")
CHOICES = ("mixer", "pos_encodings", "forward_dtype", "mlp_type")


def _config_cases() -> list:
    cases = []
    for name, low in INT_LOWS.items():
        for value in (4.0, 2.5, True, "8", None, [8], np.float32(4)):
            cases.append((name, value, f"TRMConfig.{name} must be an int"))
        cases.append((name, low - 1, f"TRMConfig.{name} must be >= {low}, got {low - 1}"))
        cases.append((name, -(10**9), f"TRMConfig.{name} must be >= {low}"))
    for name, low in (("puzzle_emb_ndim", 0), ("grid_width", 1)):
        for value in (2.0, True, "32", [32]):
            cases.append((name, value, f"TRMConfig.{name} must be an int or None"))
        cases.append((name, low - 1, f"TRMConfig.{name} must be >= {low}, got {low - 1}"))
    for name in (*POSITIVE_FLOATS, "halt_exploration_prob"):
        for value in (math.nan, math.inf, -math.inf):
            cases.append((name, value, f"TRMConfig.{name} must be finite"))
        for value in ("0.1", True, None, [0.1]):
            cases.append((name, value, f"TRMConfig.{name} must be a number"))
    for name in POSITIVE_FLOATS:
        cases.append((name, 0.0, f"TRMConfig: {name} must be > 0, got 0.0"))
        cases.append((name, -1.0, f"TRMConfig.{name} must be >= 0.0, got -1.0"))
    for value in (-0.1, 1.5):
        cases.append(
            ("halt_exploration_prob", value, "halt_exploration_prob must be in [0.0, 1.0]")
        )
    for name in BOOLS:
        for value in (1, 0, "yes", "False", None, 1.0):
            cases.append((name, value, f"TRMConfig.{name} must be True or False"))
    for name in CHOICES:
        for value in ("", "gru", "CONV", "ATTENTION", 1, None, ["mlp"]):
            cases.append((name, value, f"TRMConfig: unknown {name} {value!r}; choose one of"))
    return cases


@pytest.mark.parametrize(("name", "value", "phrase"), _config_cases())
def test_config_refuses_each_malformed_field(name: str, value, phrase: str) -> None:
    with pytest.raises(ValueError) as info:
        tiny(**{name: value})
    assert phrase in str(info.value)


def test_every_field_is_covered_by_the_malformed_cases() -> None:
    covered = {name for name, _, _ in _config_cases()}
    assert covered == {f.name for f in dataclasses.fields(TRMConfig)}


@pytest.mark.parametrize(
    ("changes", "phrase"),
    [
        ({"expansion": 1e-9}, "gives an MLP of width 0; raise expansion"),
        ({"hidden_size": 30, "num_heads": 4}, "divisible by num_heads"),
        ({"num_puzzle_identifiers": 0}, "num_puzzle_identifiers must be >= 1 when"),
        ({"puzzle_emb_len": 1, "puzzle_emb_ndim": 33}, "raise puzzle_emb_len"),
        ({"mixer": "conv", "pos_encodings": "none"}, "the conv mixer needs grid_width"),
        ({"mixer": "conv", "grid_width": 4}, "set pos_encodings='none'"),
        ({"grid_width": 5}, "seq_len (12) must be divisible by grid_width (5)"),
    ],
)
def test_config_refuses_inconsistent_fields(changes: dict, phrase: str) -> None:
    with pytest.raises(ValueError, match="TRMConfig") as info:
        tiny(**changes)
    assert phrase in str(info.value)


@given(value=st.one_of(st.floats(), st.text(max_size=3), st.booleans(), st.none()))
@FAST
def test_config_int_fields_refuse_every_non_int(value) -> None:
    for name in ("hidden_size", "seq_len", "halt_max_steps"):
        with pytest.raises(ValueError, match=f"TRMConfig.{name} must be an int"):
            tiny(**{name: value})


@given(
    hidden=st.sampled_from([8, 16, 32]),
    heads=st.sampled_from([1, 2, 4]),
    seq_len=st.integers(1, 40),
    vocab=st.integers(2, 50),
    prob=st.floats(0.0, 1.0),
    eps=st.floats(1e-12, 1.0),
    mixer=st.sampled_from(["attention", "mlp", "conv"]),
    numpy_ints=st.booleans(),
)
@FAST
def test_valid_configs_survive_a_json_round_trip(
    hidden, heads, seq_len, vocab, prob, eps, mixer, numpy_ints
) -> None:
    as_int = np.int64 if numpy_ints else int
    cfg = TRMConfig(
        hidden_size=as_int(hidden),
        num_heads=as_int(heads),
        seq_len=as_int(seq_len),
        vocab_size=as_int(vocab),
        halt_exploration_prob=prob,
        rms_norm_eps=eps,
        mixer=mixer,
        grid_width=as_int(seq_len) if mixer == "conv" else None,
        pos_encodings="none",
        puzzle_emb_ndim=0,
        expansion=as_int(2),
    )
    # Stored normalised: Python ints and floats, so the JSON copy is exact.
    assert type(cfg.hidden_size) is int and type(cfg.expansion) is float
    assert cfg.grid_width is None or type(cfg.grid_width) is int
    assert TRMConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_unknown_preset_lists_every_known_name() -> None:
    for bad in ("paper-chess", "", None, 3):
        with pytest.raises(ValueError, match="unknown preset") as info:
            TRMConfig.preset(bad)
        assert all(name in str(info.value) for name in PRESETS)


def test_unknown_field_names_are_named() -> None:
    with pytest.raises(ValueError, match=r"unknown fields \['hidden', 'layers'\]"):
        TRMConfig.from_dict({"hidden": 3, "layers": 2, "seq_len": 9})
    with pytest.raises(ValueError, match=r"unknown fields \['sequence_length'\]"):
        TRMConfig.preset("cpu-maze-9x9", sequence_length=225)
    with pytest.raises(ValueError, match=r"unknown fields \['hidden'\]"):
        tiny().replace(hidden=3)
    with pytest.raises(ValueError, match=r"unknown fields \[1\]"):
        TRMConfig.from_dict({1: 2})
    with pytest.raises(ValueError, match="needs a dict of fields, got list"):
        TRMConfig.from_dict([("seq_len", 9)])


@pytest.mark.parametrize(
    ("changes", "phrase"),
    [
        ({"expansion": "4"}, "TRMConfig.expansion must be a number"),
        ({"halt_exploration_prob": math.nan}, "halt_exploration_prob must be finite"),
        ({"hidden_size": 512.0}, "TRMConfig.hidden_size must be an int"),
    ],
)
def test_from_official_refuses_malformed_numbers(changes: dict, phrase: str) -> None:
    arch = {**TRMConfig.preset("paper-sudoku-att").to_official(), **changes}
    with pytest.raises(ValueError) as info:
        TRMConfig.from_official(arch)
    assert phrase in str(info.value)


def test_from_official_refuses_a_non_dict() -> None:
    with pytest.raises(ValueError, match="from_official needs the arch dict, got str"):
        TRMConfig.from_official("arch.yaml")


# ----------------------------------------------------------------------------------- batches
def _mutations(cfg: TRMConfig) -> list:
    b = make_batch(cfg)
    V, S, N = cfg.vocab_size, cfg.seq_len, cfg.num_puzzle_identifiers
    return [
        ("float tokens", {"inputs": b["inputs"].float()}, "inputs must hold integer ids"),
        ("bool tokens", {"inputs": b["inputs"] > 2}, "inputs must hold integer ids"),
        ("numpy tokens", {"inputs": b["inputs"].numpy()}, "inputs must be a torch.Tensor"),
        ("list tokens", {"inputs": b["inputs"].tolist()}, "inputs must be a torch.Tensor"),
        ("token = vocab", {"inputs": b["inputs"].clamp(max=0) + V}, f"tokens up to {V} but"),
        ("token >> vocab", {"inputs": b["inputs"] + 2**32}, f"vocab_size is {V}"),
        ("negative token", {"inputs": b["inputs"] - 3}, "a negative token (-3)"),
        ("short rows", {"inputs": b["inputs"][:, :-1]}, f"[B, {S}], got [3, {S - 1}]"),
        ("1-D inputs", {"inputs": b["inputs"][0]}, f"[B, {S}], got [{S}]"),
        ("3-D inputs", {"inputs": b["inputs"][None]}, f"got [1, 3, {S}]"),
        ("no rows", {"inputs": b["inputs"][:0], "labels": b["labels"][:0]}, "batch size 0"),
        ("labels: other batch", {"labels": b["labels"][:2]}, f"labels must have shape [3, {S}]"),
        ("labels: other length", {"labels": b["labels"][:, :4]}, "labels must have shape"),
        ("labels: float", {"labels": b["labels"].double()}, "labels must hold integer ids"),
        ("labels = vocab", {"labels": b["labels"].clamp(max=0) + V}, f"values up to {V}"),
        ("labels: -1", {"labels": b["labels"] - 1 - b["labels"]}, "the value -1"),
        ("labels: -101", {"labels": b["labels"] * 0 - 101}, "or equal -100"),
        ("ids = count", {"puzzle_identifiers": torch.full((3,), N)}, f"ids up to {N} but"),
        ("negative ids", {"puzzle_identifiers": torch.full((3,), -1)}, "a negative id (-1)"),
        ("ids: 2-D", {"puzzle_identifiers": b["puzzle_identifiers"][:, None]}, "shape [3]"),
        ("ids: float", {"puzzle_identifiers": torch.zeros(3)}, "must hold integer ids"),
        ("extra: other rows", {"mask": torch.ones(2, S)}, "one row per example (3"),
        ("extra: scalar", {"mask": torch.tensor(1.0)}, "one row per example"),
        ("extra: not a tensor", {"mask": [1, 2, 3]}, "mask must be a torch.Tensor"),
    ]


CASES = _mutations(tiny())


@pytest.mark.parametrize(("what", "changes", "phrase"), CASES, ids=[c[0] for c in CASES])
def test_malformed_batches_are_refused_by_forward_and_initial_carry(
    model: TRM, what: str, changes: dict, phrase: str
) -> None:
    good = make_batch(model.config)
    bad = {**good, **changes}
    with pytest.raises(ValueError) as info:
        model.initial_carry(bad)
    assert phrase in str(info.value)
    carry = model.initial_carry(good)
    if set(bad) == set(good) and len(bad["inputs"]) == 3:  # same keys and rows as the carry
        with pytest.raises(ValueError) as info:
            model(carry, bad)
        assert phrase in str(info.value)
    if set(changes) <= {"inputs", "puzzle_identifiers"}:
        with pytest.raises(ValueError) as info:
            model.solve(bad["inputs"], puzzle_identifiers=bad["puzzle_identifiers"])
        assert phrase in str(info.value)


@pytest.mark.parametrize(
    ("call", "phrase"),
    [
        (lambda m, c, b: m(None, b), "carry must be a TRMCarry"),
        (lambda m, c, b: m(c, {k: v[:2] for k, v in b.items()}), "carry is for 3 rows"),
        (lambda m, c, b: m(c, {"inputs": b["inputs"]}), "differ from the carry's"),
        (lambda m, c, b: m(c, {**b, "mask": b["inputs"]}), "differ from the carry's"),
        (lambda m, c, b: m.solve(b["inputs"], max_steps=0), "max_steps must be >= 1"),
        (lambda m, c, b: m.solve(b["inputs"], max_steps=2.0), "max_steps must be an int"),
        (lambda m, c, b: m.solve(b["inputs"], halt="yes"), "halt must be True or False"),
        (lambda m, c, b: m.initial_carry([b["inputs"]]), "batch must be a dict of tensors"),
        (lambda m, c, b: m.initial_carry({"tokens": b["inputs"]}), "batch has no 'inputs'"),
    ],
)
def test_malformed_calls_are_refused(model: TRM, call, phrase: str) -> None:
    batch = make_batch(model.config)
    carry = model.initial_carry(batch)
    with pytest.raises(ValueError) as info:
        call(model, carry, batch)
    assert phrase in str(info.value)


def test_a_carry_of_another_model_is_refused(model: TRM) -> None:
    other = TRM(tiny(hidden_size=16))
    batch = make_batch(model.config)
    with pytest.raises(ValueError, match=r"carry.inner.z_H has shape \[3, 14, 16\]"):
        model(other.initial_carry(batch), batch)


@given(low=st.integers(-300, 30), high=st.integers(-300, 30), seed=st.integers(0, 2**16))
@FAST
def test_forward_accepts_exactly_the_tokens_in_the_vocabulary(
    model: TRM, low: int, high: int, seed: int
) -> None:
    low, high = min(low, high), max(low, high)
    gen = torch.Generator().manual_seed(seed)
    batch = make_batch(model.config)
    batch["inputs"] = torch.randint(low, high + 1, (3, model.config.seq_len), generator=gen)
    batch["labels"] = torch.where(batch["inputs"] % 3 == 0, IGNORE_LABEL_ID, batch["labels"])
    tokens = batch["inputs"]
    valid = bool(tokens.min() >= 0 and tokens.max() < model.config.vocab_size)
    if valid:
        with torch.no_grad():
            _, out = model(model.initial_carry(batch), batch)
        assert out["logits"].shape == (3, model.config.seq_len, model.config.vocab_size)
    else:
        with pytest.raises(ValueError, match="token ids must lie in"):
            model(model.initial_carry(batch), batch)


@given(
    labels=st.lists(
        st.one_of(st.integers(-200, 12), st.just(IGNORE_LABEL_ID)), min_size=12, max_size=12
    )
)
@FAST
def test_labels_accept_the_vocabulary_and_the_ignore_label_only(model: TRM, labels) -> None:
    batch = make_batch(model.config, size=1)
    batch["labels"] = torch.tensor([labels])
    ok = all(0 <= v < model.config.vocab_size or v == IGNORE_LABEL_ID for v in labels)
    if ok:
        assert model.initial_carry(batch).halted.tolist() == [True]
    else:
        with pytest.raises(ValueError, match=r"labels must lie in \[0, 6\) or equal -100"):
            model.initial_carry(batch)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int16, torch.int8, torch.uint8])
def test_every_accepted_integer_dtype_gives_the_same_logits(model: TRM, dtype) -> None:
    batch = make_batch(model.config)
    small = {**batch, "inputs": batch["inputs"].to(dtype)}
    with torch.no_grad():
        _, ref = model(model.initial_carry(batch), batch)
        _, out = model(model.initial_carry(small), small)
    assert torch.equal(ref["logits"], out["logits"])


def test_puzzle_ids_are_not_range_checked_without_a_puzzle_table() -> None:
    plain = TRM(tiny(puzzle_emb_ndim=0)).eval()
    batch = make_batch(plain.config)
    batch["puzzle_identifiers"] = torch.full((3,), 99)  # ignored by a model without the table
    with torch.no_grad():
        _, out = plain(plain.initial_carry(batch), batch)
    assert out["logits"].shape[0] == 3


# ---------------------------------------------------------------------------------- checkpoints
def _randomised(cfg: TRMConfig, seed: int) -> TRM:
    torch.manual_seed(seed)
    model = TRM(cfg)
    with torch.no_grad():
        model.puzzle_emb.weight.normal_()
        model.q_head.weight.normal_()
    return model


def _assert_same_model(a: TRM, b: TRM) -> None:
    assert a.config == b.config
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_weights_carry_their_config(tmp_path) -> None:
    model = _randomised(tiny(), 0)
    folder = save_checkpoint(model, tmp_path / "ckpt")
    with safe_open(str(folder / WEIGHTS_NAME), framework="pt") as f:
        metadata = f.metadata()
    assert metadata["format"] == "pt"
    assert metadata[CONFIG_METADATA_KEY] == (folder / CONFIG_NAME).read_text()
    assert TRMConfig.from_dict(json.loads(metadata[CONFIG_METADATA_KEY])) == model.config


def test_interrupted_save_loads_the_newer_weights_and_config(tmp_path, monkeypatch) -> None:
    old, new = _randomised(tiny(), 0), _randomised(tiny(hidden_size=16, L_cycles=2), 1)
    folder = save_checkpoint(old, tmp_path / "ckpt")
    stale = (folder / CONFIG_NAME).read_text()

    def interrupted(*args, **kwargs):  # the process dies before config.json is replaced
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt, "atomic_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(new, folder)
    monkeypatch.undo()
    assert (folder / CONFIG_NAME).read_text() == stale  # config.json still describes `old`
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    with pytest.warns(UserWarning) as record:
        loaded = load_checkpoint(folder)
    message = str(record[0].message)
    assert str(folder / CONFIG_NAME) in message and str(folder / WEIGHTS_NAME) in message
    assert "hidden_size: 16 in model.safetensors vs 32" in message
    assert f"Using the config stored in {WEIGHTS_NAME}" in message
    _assert_same_model(loaded, new)
    with pytest.warns(UserWarning, match="disagrees"):
        assert load_config(folder) == new.config


def test_a_hand_edited_or_broken_config_copy_warns_and_is_not_used(tmp_path) -> None:
    model = _randomised(tiny(), 0)
    folder = save_checkpoint(model, tmp_path)
    data = json.loads((folder / CONFIG_NAME).read_text())
    (folder / CONFIG_NAME).write_text(json.dumps({**data, "H_cycles": 7}))
    with pytest.warns(UserWarning, match="H_cycles: 2 in model.safetensors vs 7"):
        _assert_same_model(load_checkpoint(folder), model)
    (folder / CONFIG_NAME).write_text("{not json")
    with pytest.warns(UserWarning, match="it cannot be read"):
        _assert_same_model(load_checkpoint(folder), model)
    (folder / CONFIG_NAME).unlink()  # the copy is optional when the weights carry the config
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _assert_same_model(load_checkpoint(folder), model)


def test_an_equal_copy_gives_no_warning(tmp_path) -> None:
    folder = save_checkpoint(_randomised(tiny(), 0), tmp_path)
    data = json.loads((folder / CONFIG_NAME).read_text())
    (folder / CONFIG_NAME).write_text(json.dumps(data))  # reformatted, same values
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_checkpoint(folder)


def _old_style(folder, model: TRM, config: dict | None) -> None:
    """A checkpoint written before the config moved into the weights' metadata."""
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / WEIGHTS_NAME)
    if config is not None:
        (folder / CONFIG_NAME).write_text(json.dumps(config))


def test_old_checkpoints_fall_back_to_config_json(tmp_path) -> None:
    model = _randomised(tiny(), 0)
    _old_style(tmp_path / "old", model, model.config.to_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _assert_same_model(load_checkpoint(tmp_path / "old"), model)
    _old_style(tmp_path / "no-config", model, None)
    with pytest.raises(FileNotFoundError, match=r"no config\.json and no model\.safetensors with"):
        load_checkpoint(tmp_path / "no-config")
    _old_style(tmp_path / "other", model, tiny(hidden_size=16).to_dict())
    with pytest.raises(ValueError, match="does not fit its config") as info:
        load_checkpoint(tmp_path / "other")
    assert "shape mismatches" in str(info.value)


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (b"", "header too small"),
        (b"definitely not safetensors", "header too large"),
        (None, "incomplete metadata"),  # truncated to half of a real file
    ],
)
def test_corrupt_weights_give_a_clear_error(tmp_path, content, phrase: str) -> None:
    folder = save_checkpoint(_randomised(tiny(), 0), tmp_path)
    weights = folder / WEIGHTS_NAME
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if content is None else content)
    for load in (load_checkpoint, load_config):
        with pytest.raises(ValueError) as info:
            load(folder)
        text = str(info.value)
        assert f"{weights} is not a readable safetensors file" in text
        assert phrase in text and "save the checkpoint again" in text


def test_corrupt_config_inside_the_weights(tmp_path) -> None:
    model = _randomised(tiny(), 0)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, tmp_path / WEIGHTS_NAME, metadata={CONFIG_METADATA_KEY: "{oops"})
    with pytest.raises(ValueError, match=r"the config stored in .* is invalid"):
        load_checkpoint(tmp_path)
    bad = json.dumps({**model.config.to_dict(), "seq_len": -4})
    save_file(tensors, tmp_path / WEIGHTS_NAME, metadata={CONFIG_METADATA_KEY: bad})
    with pytest.raises(ValueError, match=r"TRMConfig\.seq_len must be >= 1"):
        load_checkpoint(tmp_path)


def test_missing_folders_and_files(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"checkpoint folder .*missing does not exist"):
        load_checkpoint(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_config(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=r"no config\.json and no model\.safetensors"):
        load_checkpoint(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file; pass the checkpoint folder"):
        load_checkpoint(tmp_path / "file")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        save_checkpoint(TRM(tiny()), tmp_path / "file")
    folder = save_checkpoint(TRM(tiny()), tmp_path / "ckpt")
    (folder / WEIGHTS_NAME).unlink()
    with pytest.raises(FileNotFoundError, match=r"has config\.json but no model\.safetensors"):
        load_checkpoint(folder)
    (folder / CONFIG_NAME).write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"holds an invalid config: .*needs a dict"):
        load_config(folder)


# ------------------------------------------------------------------------ official state dicts
P = "_orig_mod.model.inner."


def _official(model: TRM) -> dict:
    return to_official_state_dict(model)


def _official_cases() -> list:
    """(what, change(state) -> state, phrase)."""

    def set_(key, value):
        return lambda s: {**s, key: value(s[key]) if callable(value) else value}

    def drop(key):
        return lambda s: {k: v for k, v in s.items() if k != key}

    return [
        ("missing key", drop(P + "lm_head.weight"), "missing keys: ['lm_head.weight']"),
        (
            "extra key",
            set_(P + "L_level.layers.0.extra.weight", torch.zeros(1)),
            "unexpected keys: ['net.layers.0.extra.weight (input key",
        ),
        (
            "wrong shape",
            set_(P + "q_head.bias", torch.zeros(3)),
            "q_head.bias: checkpoint (3,) vs model (2,)",
        ),
        (
            "transposed",
            set_(P + "lm_head.weight", lambda v: v.t()),
            "lm_head.weight: checkpoint (32, 6) vs model (6, 32)",
        ),
        ("a list", set_(P + "L_init", lambda v: v.tolist()), "L_init: list"),
        ("a numpy array", set_(P + "L_init", lambda v: v.float().numpy()), "L_init: ndarray"),
        ("a float", set_(P + "q_head.bias", 0.5), "q_head.bias: float"),
        ("None", set_(P + "q_head.bias", None), "q_head.bias: NoneType"),
        (
            "a meta tensor",
            set_(P + "q_head.bias", torch.empty(2, device="meta")),
            "on meta (no data)",
        ),
        (
            "complex",
            set_(P + "lm_head.weight", lambda v: v.to(torch.complex64)),
            "lm_head.weight: torch.complex64 cannot become torch.float32",
        ),
        (
            "bool",
            set_(P + "q_head.weight", lambda v: v > 0),
            "torch.bool cannot become torch.float32",
        ),
        (
            "int",
            set_(P + "q_head.bias", lambda v: v.long()),
            "torch.int64 cannot become torch.float32",
        ),
    ]


OFFICIAL = _official_cases()


@pytest.mark.parametrize(("what", "change", "phrase"), OFFICIAL, ids=[c[0] for c in OFFICIAL])
def test_official_import_refuses_and_changes_nothing(what: str, change, phrase: str) -> None:
    source, target = _randomised(tiny(), 1), _randomised(tiny(), 2)
    before = snapshot(target)
    with pytest.raises(ValueError) as info:
        load_official_state_dict(target, change(_official(source)))
    assert phrase in str(info.value)
    assert "nothing was loaded" in str(info.value)
    assert_unchanged(target, before)


def test_a_bad_last_key_does_not_leave_earlier_keys_copied() -> None:
    source, target = _randomised(tiny(), 1), _randomised(tiny(), 2)
    state = _official(source)
    last = list(state)[-1]
    state[last] = state[last].to(torch.complex64)  # only the last key is wrong
    before = snapshot(target)
    with pytest.raises(ValueError, match="cannot become"):
        load_official_state_dict(target, state)
    assert_unchanged(target, before)


def test_two_names_for_one_weight_are_refused_by_name() -> None:
    source, target = _randomised(tiny(), 1), _randomised(tiny(), 2)
    state = _official(source)
    state["lm_head.weight"] = state[P + "lm_head.weight"].clone()
    before = snapshot(target)
    with pytest.raises(ValueError) as info:
        load_official_state_dict(target, state)
    text = str(info.value)
    assert f"'{P}lm_head.weight' and 'lm_head.weight' both name the weight 'lm_head.weight'" in (
        text
    )
    assert_unchanged(target, before)


@pytest.mark.parametrize(
    ("state", "phrase"),
    [
        ([("lm_head.weight", torch.zeros(6, 32))], "state_dict must be a dict"),
        ({0: torch.zeros(1)}, "state dict keys must be strings, got 0"),
    ],
)
def test_official_import_refuses_non_dicts(state, phrase: str) -> None:
    target = _randomised(tiny(), 2)
    before = snapshot(target)
    with pytest.raises(ValueError, match=phrase):
        load_official_state_dict(target, state)
    assert_unchanged(target, before)


def test_official_import_accepts_nan_and_other_float_dtypes() -> None:
    source, target = _randomised(tiny(), 1), TRM(tiny())
    state = _official(source)
    state[P + "lm_head.weight"][0, 0] = math.nan
    state[P + "q_head.weight"] = state[P + "q_head.weight"].double()
    state[P + "L_init"] = state[P + "L_init"].half()
    load_official_state_dict(target, state)
    assert torch.isnan(target.lm_head.weight[0, 0])
    assert torch.equal(target.q_head.weight, source.q_head.weight)
    assert torch.equal(target.L_init, source.L_init.half().float())


CORRUPTIONS = {
    "list": lambda v: v.tolist(),
    "None": lambda v: None,
    "complex": lambda v: v.to(torch.complex64),
    "bool": lambda v: v > 0,
    "int": lambda v: v.long(),
    "one value short": lambda v: v.reshape(-1)[:-1],
    "meta": lambda v: torch.empty_like(v, device="meta"),
    "dropped": None,
}


@given(
    picks=st.lists(
        st.tuples(st.integers(0, 10**6), st.sampled_from(sorted(CORRUPTIONS))),
        min_size=1,
        max_size=4,
    ),
    extra=st.booleans(),
)
@settings(max_examples=15, deadline=None)
def test_any_mix_of_problems_leaves_the_model_unchanged(picks, extra: bool) -> None:
    source, target = _randomised(tiny(), 1), _randomised(tiny(), 2)
    state = _official(source)
    names = sorted(state)
    chosen = {names[index % len(names)]: kind for index, kind in picks}  # one problem per key
    for name, kind in chosen.items():
        if CORRUPTIONS[kind] is None:
            del state[name]
        else:
            state[name] = CORRUPTIONS[kind](state[name])
    if extra:
        state[P + "extra"] = torch.zeros(1)
    before = snapshot(target)
    with pytest.raises(ValueError, match="nothing was loaded"):
        load_official_state_dict(target, state)
    assert_unchanged(target, before)


# ------------------------------------------------------------- other entry points found by probing
def test_trm_needs_a_config_object() -> None:
    with pytest.raises(ValueError, match="TRM needs a TRMConfig, got dict; build one with"):
        TRM(tiny().to_dict())


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        ({"precision": "float16"}, "precision must be one of ['float32', 'float64']"),
        ({"loss_type": "focal"}, "unknown loss_type 'focal'; choose 'stablemax' or"),
        ({"halt_loss": "no"}, "halt_loss must be True or False"),
    ],
)
def test_act_loss_refuses_unknown_options(model: TRM, kwargs: dict, phrase: str) -> None:
    batch = make_batch(model.config)
    with torch.no_grad():
        carry, out = model(model.initial_carry(batch), batch)
    with pytest.raises(ValueError) as info:
        act_loss(out, carry, **kwargs)
    assert phrase in str(info.value)
    with pytest.raises(ValueError, match="precision must be one of"):
        stablemax_cross_entropy(out["logits"], batch["labels"], precision="fp64")


def test_act_loss_without_labels_says_where_they_go(model: TRM) -> None:
    batch = make_batch(model.config)
    del batch["labels"]
    with torch.no_grad():
        carry, out = model(model.initial_carry(batch), batch)
    with pytest.raises(ValueError, match=r"act_loss needs labels.*put the answers in batch"):
        act_loss(out, carry)


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [({"lr": math.nan}, "lr must be finite"), ({"lr": 0.1, "weight_decay": -1}, ">= 0.0")],
)
def test_sign_sgd_refuses_bad_rates_before_touching_the_table(kwargs: dict, phrase: str) -> None:
    model = TRM(tiny()).train()
    batch = make_batch(model.config)
    carry, out = model(model.initial_carry(batch), batch)
    act_loss(out, carry).loss.backward()
    before = model.puzzle_emb.weight.clone()
    with pytest.raises(ValueError, match=phrase):
        model.puzzle_emb.sign_sgd_step(**kwargs)
    assert torch.equal(model.puzzle_emb.weight, before)


def test_to_official_refuses_a_non_positive_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        TRMConfig.preset("paper-sudoku-att").to_official(batch_size=0)


@pytest.mark.parametrize(
    ("device", "phrase"),
    [("gpu", "unknown device 'gpu'"), (None, "unknown device None")]
    + ([] if torch.cuda.is_available() else [("cuda", "needs CUDA, which is not available")]),
)
def test_load_checkpoint_names_a_bad_device_not_a_corrupt_file(tmp_path, device, phrase) -> None:
    folder = save_checkpoint(TRM(tiny()), tmp_path)
    with pytest.raises(ValueError) as info:
        load_checkpoint(folder, device=device)
    assert phrase in str(info.value) and "corrupt" not in str(info.value)
    assert load_checkpoint(folder, device="auto").config == tiny()


@pytest.mark.parametrize(
    ("seed", "phrase"),
    [(-1, "seed must be in [0, 4294967295]"), (2**32, "got 4294967296"), (1.5, "must be an int")],
)
def test_set_seed_refuses_seeds_numpy_cannot_take(seed, phrase: str) -> None:
    with pytest.raises(ValueError) as info:
        set_seed(seed)
    assert phrase in str(info.value)
