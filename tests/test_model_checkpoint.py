"""Checkpoints (safetensors + config.json) and import of official-format state dicts."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import tiny_config

from trm_rl.model import TRM, TRMConfig
from trm_rl.model.checkpoint import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    from_official_key,
    load_checkpoint,
    load_official_state_dict,
    save_checkpoint,
    to_official_state_dict,
)


def tiny(**changes) -> TRMConfig:
    base = dict(
        seq_len=12, H_cycles=2, L_cycles=2, halt_max_steps=3, halt_exploration_prob=0.1,
        swiglu_multiple=256,
    )  # fmt: skip
    return tiny_config(**{**base, **changes})


def _outputs(model: TRM, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Logits and Q logits of two eval supervision steps."""
    gen = torch.Generator().manual_seed(seed)
    cfg = model.config
    batch = {
        "inputs": torch.randint(1, cfg.vocab_size, (3, cfg.seq_len), generator=gen),
        "puzzle_identifiers": torch.tensor([0, 1, 2]),
    }
    model.eval()
    carry = model.initial_carry(batch)
    with torch.no_grad():
        carry, first = model(carry, batch)
        carry, second = model(carry, batch)
    return first["logits"], second["logits"], second["q_halt_logits"]


def _randomise(model: TRM) -> TRM:
    with torch.no_grad():
        model.puzzle_emb.weight.normal_()
        model.q_head.weight.normal_()
    return model


@pytest.mark.parametrize(
    "changes", [{}, {"mixer": "mlp", "pos_encodings": "learned"}, {"single_z": True}]
)
def test_save_load_round_trip(tmp_path, changes: dict) -> None:
    cfg = tiny(**changes)
    model = _randomise(TRM(cfg))
    folder = save_checkpoint(model, tmp_path / "ckpt")
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]  # no temp files
    assert json.loads((folder / CONFIG_NAME).read_text())["hidden_size"] == 32
    loaded = load_checkpoint(folder)
    assert loaded.config == cfg
    for (k, a), (k2, b) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert k == k2 and torch.equal(a, b)
    for a, b in zip(_outputs(model), _outputs(loaded), strict=True):
        assert torch.equal(a, b)
    save_checkpoint(loaded, folder)  # overwriting in place works


def test_failed_write_leaves_no_temp_file(tmp_path, monkeypatch) -> None:
    import trm_rl.model.checkpoint as ckpt

    def boom(tensors, path, metadata=None):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "save_file", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(TRM(tiny()), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_official_key_names_and_shapes_of_the_sudoku_mlp() -> None:
    """Key names and shapes listed in TRM.md 3.5 (built on the meta device)."""
    with torch.device("meta"):
        model = TRM(TRMConfig.preset("paper-sudoku-mlp"))
    state = to_official_state_dict(model)
    p = "_orig_mod.model.inner."
    expected = {
        p + "embed_tokens.embedding_weight": (11, 512),
        p + "lm_head.weight": (11, 512),
        p + "q_head.weight": (2, 512),
        p + "q_head.bias": (2,),
        p + "puzzle_emb.weights": (1, 512),
        p + "H_init": (512,),
        p + "L_init": (512,),
        p + "L_level.layers.0.mlp_t.gate_up_proj.weight": (1024, 97),
        p + "L_level.layers.0.mlp_t.down_proj.weight": (97, 512),
        p + "L_level.layers.1.mlp.gate_up_proj.weight": (3072, 512),
        p + "L_level.layers.1.mlp.down_proj.weight": (512, 1536),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert state[p + "H_init"].dtype == torch.bfloat16  # forward dtype of the paper preset
    assert len(state) == 7 + 2 * 4
    with torch.device("meta"):
        att = TRM(TRMConfig.preset("paper-sudoku-att"))
    state = to_official_state_dict(att, compiled_prefix=False)
    assert tuple(state["model.inner.L_level.layers.0.self_attn.qkv_proj.weight"].shape) == (
        1536,
        512,
    )
    assert tuple(state["model.inner.L_level.layers.0.self_attn.o_proj.weight"].shape) == (512, 512)


@pytest.mark.parametrize("prefix", [True, False])
@pytest.mark.parametrize("changes", [{}, {"mixer": "mlp", "pos_encodings": "none"}])
def test_official_state_dict_import_round_trip(prefix: bool, changes: dict) -> None:
    cfg = tiny(forward_dtype="bfloat16", **changes)
    source = _randomise(TRM(cfg))
    with torch.no_grad():  # bf16-representable inits survive the official bf16 storage exactly
        source.H_init.copy_(source.H_init.bfloat16().float())
        source.L_init.copy_(source.L_init.bfloat16().float())
    official = to_official_state_dict(source, compiled_prefix=prefix)
    official[
        "_orig_mod.model.inner.puzzle_emb.local_weights"
        if prefix
        else "model.inner.puzzle_emb.local_weights"
    ] = torch.zeros(4, 32)
    target = load_official_state_dict(TRM(cfg), official)
    for k, v in source.state_dict().items():
        assert torch.equal(target.state_dict()[k], v), k
    source32, target32 = TRM(tiny(**changes)), TRM(tiny(**changes))
    source32.load_state_dict(source.state_dict())
    load_official_state_dict(target32, to_official_state_dict(source32))
    for a, b in zip(_outputs(source32), _outputs(target32), strict=True):
        assert torch.equal(a, b)
    # Keys of the un-wrapped inner model ("inner." only) are accepted too.
    inner_only = {
        k.removeprefix("_orig_mod.model."): v for k, v in to_official_state_dict(source32).items()
    }
    load_official_state_dict(TRM(tiny(**changes)), inner_only)


def test_official_import_reports_every_problem() -> None:
    cfg = tiny()
    state = to_official_state_dict(TRM(cfg))
    del state["_orig_mod.model.inner.lm_head.weight"]
    state["_orig_mod.model.inner.L_level.layers.0.extra.weight"] = torch.zeros(1)
    state["_orig_mod.model.inner.puzzle_emb.weights"] = torch.zeros(7, 32)
    with pytest.raises(ValueError) as info:
        load_official_state_dict(TRM(cfg), state)
    text = str(info.value)
    assert "missing keys: ['lm_head.weight']" in text
    assert "net.layers.0.extra.weight" in text
    assert "puzzle_emb.weight: checkpoint (7, 32) vs model (3, 32)" in text


def test_key_mapping() -> None:
    assert from_official_key(
        "_orig_mod.model.inner.L_level.layers.1.self_attn.qkv_proj.weight"
    ) == ("net.layers.1.attn.qkv_proj.weight")
    assert from_official_key("inner.L_level.layers.0.mlp_t.down_proj.weight") == (
        "net.layers.0.seq_mlp.down_proj.weight"
    )
    assert from_official_key("model.inner.embed_tokens.embedding_weight") == "embed_tokens.weight"
