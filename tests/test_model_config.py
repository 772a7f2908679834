"""TRMConfig: validation, derived values, presets (official parameter counts), official dicts."""

from __future__ import annotations

import pytest
import torch

from trm_rl.model import OFFICIAL_PARAM_COUNTS, TRM, TRMConfig
from trm_rl.model.config import mlp_width


@pytest.mark.parametrize("name", sorted(OFFICIAL_PARAM_COUNTS))
def test_paper_presets_have_official_parameter_counts(name: str) -> None:
    with torch.device("meta"):
        model = TRM(TRMConfig.preset(name))
    assert sum(p.numel() for p in model.parameters()) == OFFICIAL_PARAM_COUNTS[name]
    # The puzzle table is a buffer: present in the state dict, absent from parameters().
    assert "puzzle_emb.weight" in model.state_dict()
    assert "puzzle_emb.weight" not in dict(model.named_parameters())


def test_sudoku_mlp_breakdown() -> None:
    """TRM.md 1.9: channel SwiGLU 2,359,296 and sequence SwiGLU 148,992 per layer."""
    with torch.device("meta"):
        model = TRM(TRMConfig.preset("paper-sudoku-mlp"))
    layer = model.net.layers[0]
    assert sum(p.numel() for p in layer.mlp.parameters()) == 2_359_296
    assert sum(p.numel() for p in layer.seq_mlp.parameters()) == 148_992
    assert model.embed_tokens.weight.numel() == 5_632
    assert sum(p.numel() for p in model.q_head.parameters()) == 1_026


@pytest.mark.parametrize("name", TRMConfig.preset_names())
def test_every_preset_builds(name: str) -> None:
    cfg = TRMConfig.preset(name)
    with torch.device("meta"):
        model = TRM(cfg)
    assert model.num_parameters() > 0
    if name.startswith("cpu-"):
        assert cfg.hidden_size <= 128 and cfg.swiglu_multiple == 1


def test_swiglu_width_rule() -> None:
    assert mlp_width(512, 4, 256) == 1536  # round(1365.33) = 1365 -> 1536
    assert mlp_width(97, 4, 256) == 512  # Sudoku sequence MLP: 259 -> 512
    assert mlp_width(916, 4, 256) == 2560  # Maze sequence MLP: 2443 -> 2560
    assert mlp_width(64, 4, 1) == 171  # exact width
    assert mlp_width(64, 4, 1, "relu") == 256


def test_derived_values() -> None:
    cfg = TRMConfig.preset("paper-sudoku-att")
    assert cfg.prefix_len == 16 and cfg.total_len == 97 and cfg.head_dim == 64
    assert cfg.net_calls_per_step == 21 and cfg.effective_depth == 42
    assert TRMConfig(puzzle_emb_len=0, puzzle_emb_ndim=512, hidden_size=256).prefix_len == 2
    assert TRMConfig(puzzle_emb_len=0, puzzle_emb_ndim=0).prefix_len == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hidden_size": 100, "num_heads": 8}, "divisible by num_heads"),
        ({"mixer": "gru"}, "unknown mixer"),
        ({"mixer": "conv", "pos_encodings": "none"}, "the conv mixer needs grid_width"),
        ({"mixer": "conv", "grid_width": 9, "pos_encodings": "rope"}, "no position encodings"),
        ({"mixer": "conv", "grid_width": 9, "pos_encodings": "learned"}, "pos_encodings='none'"),
        ({"grid_width": 7}, r"seq_len \(81\) must be divisible by grid_width \(7\)"),
        ({"grid_width": 0}, "grid_width must be >= 1"),
        ({"pos_encodings": "alibi"}, "unknown pos_encodings"),
        ({"forward_dtype": "float16"}, "unknown forward_dtype"),
        ({"mlp_type": "gelu"}, "unknown mlp_type"),
        ({"H_cycles": 0}, "H_cycles"),
        ({"seq_len": 0}, "seq_len"),
        ({"halt_exploration_prob": 1.5}, "halt_exploration_prob"),
        ({"puzzle_emb_len": 1, "puzzle_emb_ndim": 1024}, "must fit"),
        ({"act": False, "q_continue": True}, "q_continue needs act"),
        ({"single_z": True, "separate_networks": True}, "cannot be combined"),
        ({"hidden_size": 48, "num_heads": 16}, "even head_dim"),
    ],
)
def test_validation_errors(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TRMConfig(**changes)


def test_mlp_mixer_does_not_need_divisible_heads() -> None:
    TRMConfig(mixer="mlp", pos_encodings="none", hidden_size=100, num_heads=8)


def test_unknown_preset_and_fields() -> None:
    with pytest.raises(ValueError, match="unknown preset"):
        TRMConfig.preset("paper-chess")
    with pytest.raises(ValueError, match="unknown fields"):
        TRMConfig.from_dict({"hidden": 3})
    cfg = TRMConfig.preset("cpu-maze-9x9", seq_len=225)
    assert cfg.seq_len == 225
    assert TRMConfig.from_dict(cfg.to_dict()) == cfg


def _official_arch(**changes) -> dict:
    arch = {
        "name": "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1",
        "loss": {"name": "losses@ACTLossHead", "loss_type": "stablemax_cross_entropy"},
        "halt_exploration_prob": 0.1, "halt_max_steps": 16, "H_cycles": 3, "L_cycles": 6,
        "H_layers": 0, "L_layers": 2, "hidden_size": 512, "num_heads": 8, "expansion": 4,
        "puzzle_emb_ndim": 512, "pos_encodings": "none", "forward_dtype": "bfloat16",
        "mlp_t": True, "puzzle_emb_len": 16, "no_ACT_continue": True, "batch_size": 768,
        "vocab_size": 11, "seq_len": 81, "num_puzzle_identifiers": 1,
    }  # fmt: skip
    arch.update(changes)
    return arch


def test_from_official_maps_the_sudoku_mlp_recipe() -> None:
    assert TRMConfig.from_official(_official_arch()) == TRMConfig.preset("paper-sudoku-mlp")
    att = TRMConfig.from_official(_official_arch(mlp_t=False, pos_encodings="rope"))
    assert att == TRMConfig.preset("paper-sudoku-att")
    legacy = TRMConfig.from_official(_official_arch(no_ACT_continue=False))
    assert legacy.q_continue
    singlez = TRMConfig.from_official(
        _official_arch(name="recursive_reasoning.trm_singlez@TinyRecursiveReasoningModel_ACTV1")
    )
    assert singlez.single_z


def test_from_official_round_trip() -> None:
    cfg = TRMConfig.preset("paper-maze-att")
    assert TRMConfig.from_official(cfg.to_official(batch_size=768)) == cfg


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"arch_extra": 1}, "unknown keys"),
        ({"name": "recursive_reasoning.hrm@HierarchicalReasoningModel_ACTV1"}, "unsupported model"),
        ({"pos_encodings": "alibi"}, "unknown pos_encodings"),
        ({"forward_dtype": "float16"}, "unknown forward_dtype"),
        ({"puzzle_emb_ndim": "${.hidden_size}"}, "puzzle_emb_ndim"),
        ({"mlp_t": "yes"}, "mlp_t must be a bool"),
    ],
)
def test_from_official_rejects_unsupported(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TRMConfig.from_official(_official_arch(**changes))


def test_from_official_missing_keys() -> None:
    arch = _official_arch()
    del arch["hidden_size"], arch["seq_len"]
    with pytest.raises(ValueError, match=r"missing required keys \['hidden_size', 'seq_len'\]"):
        TRMConfig.from_official(arch)


def test_to_official_rejects_ablations() -> None:
    with pytest.raises(ValueError, match="separate_networks"):
        TRMConfig(separate_networks=True).to_official()
