"""Baselines (MLP, residual conv net): the TRM interface, parameter matching, learning,
grid sizes, and checkpoints of every kind of model."""

from __future__ import annotations

import json

import pytest
import torch

from baselines.models import (
    ConvNetConfig,
    ConvNetModel,
    MLPConfig,
    MLPModel,
    matched_convnet_config,
    matched_mlp_config,
)
from trm_rl.model import TRM, TRMConfig, build_model, config_from_dict
from trm_rl.model.checkpoint import CONFIG_NAME, load_checkpoint, load_config, save_checkpoint
from trm_rl.model.losses import act_loss
from trm_rl.model.trm import SolveResult, TRMCarry

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_mlp(**changes) -> MLPConfig:
    base = dict(vocab_size=6, seq_len=16, grid_width=4, embed_dim=8, hidden_size=64)
    return MLPConfig(**{**base, **changes})


def tiny_convnet(**changes) -> ConvNetConfig:
    base = dict(vocab_size=6, seq_len=16, grid_width=4, channels=16, num_blocks=4)
    return ConvNetConfig(**{**base, **changes})


def make_batch(size: int, cells: int, seed: int = 0, vocab: int = 6) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        "inputs": torch.randint(1, vocab, (size, cells), generator=gen),
        "labels": torch.randint(1, vocab, (size, cells), generator=gen),
        "puzzle_identifiers": torch.zeros(size, dtype=torch.long),
    }


KINDS = {"mlp": (tiny_mlp, MLPModel), "convnet": (tiny_convnet, ConvNetModel)}


# ---------------------------------------------------------------------------------- interface
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_trm_interface_and_the_act_loss(kind: str) -> None:
    make_config, model_class = KINDS[kind]
    torch.manual_seed(0)
    cfg = make_config()
    model = build_model(cfg)
    assert type(model) is model_class and model.config is cfg
    assert model.puzzle_emb is None and model.dtype == torch.float32
    assert (cfg.act, cfg.halt_max_steps) == (True, 1)
    first, second = make_batch(5, 16, seed=1), make_batch(5, 16, seed=2)
    assert model.check_batch(first) == 5
    carry = model.initial_carry(first)
    assert isinstance(carry, TRMCarry) and carry.halted.all() and carry.steps.tolist() == [0] * 5
    for batch in (first, second):  # every call takes the whole new batch
        carry, out = model(carry, batch)
        assert out["logits"].shape == (5, 16, 6)
        assert out["q_halt_logits"].shape == out["q_continue_logits"].shape == (5,)
        assert out["q_halt_logits"].dtype == torch.float32
        assert carry.halted.all() and carry.steps.tolist() == [1] * 5
        assert carry.current_data["inputs"] is batch["inputs"]
        torch.testing.assert_close(out["q_halt_logits"], torch.full((5,), -5.0))  # q_head init
    res = act_loss(out, carry)
    assert res.metrics["count"] == 5 and res.metrics["steps"] == 5
    res.loss.backward()
    assert model.q_head.weight.grad.abs().sum() > 0  # the Q head learns exact correctness
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ValueError, match="carry must be a TRMCarry"):
        model({"halted": None}, first)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_solve_answers_in_one_step(kind: str) -> None:
    torch.manual_seed(0)
    model = build_model(KINDS[kind][0]()).eval()
    inputs = make_batch(3, 16)["inputs"]
    res = model.solve(inputs)
    assert isinstance(res, SolveResult) and res.steps.tolist() == [1, 1, 1]
    assert res.trajectory_predictions.shape == (1, 3, 16)
    with torch.no_grad():
        _, out = model(model.initial_carry({"inputs": inputs}), {"inputs": inputs})
    assert torch.equal(res.predictions, out["logits"].argmax(-1))
    torch.testing.assert_close(res.halt_probs, torch.sigmoid(out["q_halt_logits"]))
    frozen = model.solve(inputs, max_steps=4, halt=False)  # the shape a TRM trajectory has
    assert frozen.trajectory_predictions.shape == (4, 3, 16)
    assert frozen.trajectory_halt_probs.shape == (4, 3) and frozen.steps.tolist() == [1, 1, 1]
    assert (frozen.trajectory_predictions == res.predictions).all()
    with pytest.raises(ValueError, match="max_steps must be >= 1"):
        model.solve(inputs, max_steps=0)


def test_the_mlp_is_tied_to_its_seq_len() -> None:
    model = MLPModel(tiny_mlp())
    with pytest.raises(ValueError, match=r"got \[2, 4, 4\]; flatten each grid to 16 tokens"):
        model.initial_carry({"inputs": torch.ones(2, 4, 4, dtype=torch.long)})
    with pytest.raises(ValueError, match=r"\[B, 16\], got \[2, 25\]"):
        model.solve(torch.ones(2, 25, dtype=torch.long))


@pytest.mark.parametrize(("rows", "cols"), [(4, 4), (1, 1), (7, 5), (15, 15)])
def test_the_conv_net_runs_on_grids_of_any_size(rows: int, cols: int) -> None:
    torch.manual_seed(0)
    model = ConvNetModel(tiny_convnet()).eval()
    batch = {
        k: v.view(3, rows, cols)
        for k, v in make_batch(3, rows * cols).items()
        if k != "puzzle_identifiers"
    }
    carry, out = model(model.initial_carry(batch), batch)
    assert out["logits"].shape == (3, rows * cols, 6)
    assert torch.isfinite(act_loss(out, carry).loss)
    assert model.solve(batch["inputs"]).predictions.shape == (3, rows * cols)
    if (rows, cols) == (4, 4):  # flat inputs are read with grid_width columns
        flat = model.solve(batch["inputs"].flatten(1))
        assert torch.equal(flat.predictions, model.solve(batch["inputs"]).predictions)


def test_bfloat16_runs_under_autocast() -> None:
    for cfg in (tiny_mlp(forward_dtype="bfloat16"), tiny_convnet(forward_dtype="bfloat16")):
        model = build_model(cfg)
        batch = make_batch(2, 16)
        carry, out = model(model.initial_carry(batch), batch)
        assert out["q_halt_logits"].dtype == torch.float32
        act_loss(out, carry).loss.backward()
        assert all(p.dtype == torch.float32 for p in model.parameters())


# ----------------------------------------------------------------------------------- matching
@pytest.mark.parametrize(
    "name", ["cpu-sudoku-4x4", "cpu-sudoku-6x6", "cpu-maze-9x9", "cpu-maze-conv"]
)
def test_parameters_match_the_trm_within_5_percent(name: str) -> None:
    trm_config = TRMConfig.preset(name)
    with torch.device("meta"):
        target = TRM(trm_config).num_parameters()
        for cfg in (matched_mlp_config(trm_config), matched_convnet_config(trm_config)):
            model = build_model(cfg)
            assert model.num_parameters() == cfg.num_parameters
            assert abs(cfg.num_parameters - target) <= 0.05 * target, (name, cfg)
            assert (cfg.vocab_size, cfg.seq_len) == (trm_config.vocab_size, trm_config.seq_len)


def test_matching_options() -> None:
    trm_config = TRMConfig.preset("cpu-maze-9x9")
    target = matched_convnet_config(trm_config).num_parameters
    wide = matched_convnet_config(trm_config, channels=64)
    assert wide.channels == 64 and abs(wide.num_parameters - target) <= 0.05 * target
    deep = matched_mlp_config(trm_config, num_layers=3)
    assert deep.num_layers == 3 and abs(deep.num_parameters - target) <= 0.05 * target
    assert matched_convnet_config(TRMConfig.preset("cpu-maze-conv")).grid_width == 11
    with pytest.raises(ValueError, match="pass grid_width=<columns of the grid>"):
        matched_convnet_config(trm_config.replace(seq_len=12))
    assert matched_convnet_config(trm_config.replace(seq_len=12), grid_width=4).grid_width == 4


# ----------------------------------------------------------------------------------- learning
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_overfits_8_examples(kind: str) -> None:
    torch.manual_seed(0)
    model = build_model(KINDS[kind][0]())
    batch = make_batch(8, 16, seed=3)
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        carry, out = model(model.initial_carry(batch), batch)
        result = act_loss(out, carry)
        if int(result.metrics["exact_accuracy"]) == 8:
            break
        optim.zero_grad()
        (result.loss / 8).backward()
        optim.step()
    assert int(result.metrics["exact_accuracy"]) == 8


# -------------------------------------------------------------------------------- checkpoints
def _outputs(model, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        _, out = model.eval()(model.initial_carry({"inputs": inputs}), {"inputs": inputs})
    return out["logits"], out["q_halt_logits"]


@pytest.mark.parametrize(
    ("config", "kind"),
    [
        (tiny_mlp(), "mlp"),
        (tiny_convnet(), "convnet"),
        (TRMConfig.preset("cpu-maze-conv", hidden_size=16, seq_len=16, grid_width=4), "trm"),
    ],
)
def test_checkpoint_round_trip_of_every_kind(tmp_path, config, kind: str) -> None:
    torch.manual_seed(0)
    model = build_model(config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))  # also moves the zero-initialised Q head
    folder = save_checkpoint(model, tmp_path / kind)
    assert json.loads((folder / CONFIG_NAME).read_text())["kind"] == kind
    assert load_config(folder) == config
    loaded = load_checkpoint(folder)
    assert type(loaded) is type(model) and loaded.config == config
    inputs = make_batch(3, 16)["inputs"]
    for a, b in zip(_outputs(model, inputs), _outputs(loaded, inputs), strict=True):
        assert torch.equal(a, b)


def test_configs_without_a_kind_are_trm_configs(tmp_path) -> None:
    cfg = TRMConfig.preset("cpu-sudoku-4x4")
    old = {k: v for k, v in cfg.to_dict().items() if k != "kind"}
    assert config_from_dict(old) == cfg == TRMConfig.from_dict(old)
    folder = save_checkpoint(TRM(cfg), tmp_path)
    (folder / CONFIG_NAME).write_text(json.dumps(old))  # an equal copy, without the tag
    assert load_config(folder) == cfg


def test_kinds_dispatch_and_refuse() -> None:
    for cfg in (tiny_mlp(), tiny_convnet(), TRMConfig.preset("cpu-maze-conv")):
        assert config_from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
        assert type(cfg).from_dict(cfg.to_dict()) == cfg
        assert cfg.replace() == cfg
    with pytest.raises(
        ValueError, match=r"unknown model kind 'transformer' in the config dict; choose one of"
    ):
        config_from_dict({"kind": "transformer"})
    with pytest.raises(ValueError, match="describes a model of kind 'mlp', not 'trm'"):
        TRMConfig.from_dict(tiny_mlp().to_dict())
    with pytest.raises(ValueError, match="describes a model of kind 'trm', not 'convnet'"):
        ConvNetConfig.from_dict(TRMConfig().to_dict())
    with pytest.raises(ValueError, match="build_model needs a TRMConfig, MLPConfig or"):
        build_model({"kind": "mlp"})
    with pytest.raises(ValueError, match="MLPModel needs an MLPConfig"):
        MLPModel(tiny_convnet())


@pytest.mark.parametrize(
    ("make", "changes", "phrase"),
    [
        (tiny_mlp, {"hidden_size": 0}, "MLPConfig.hidden_size must be >= 1, got 0"),
        (tiny_mlp, {"seq_len": 16.0}, "MLPConfig.seq_len must be an int"),
        (tiny_mlp, {"grid_width": 5}, "seq_len (16) must be divisible by grid_width (5)"),
        (tiny_mlp, {"forward_dtype": "float16"}, "unknown forward_dtype 'float16'"),
        (tiny_mlp, {"depth": 3}, "unknown fields ['depth']"),
        (tiny_convnet, {"grid_width": None}, "ConvNetConfig: grid_width is required"),
        (tiny_convnet, {"num_blocks": 0}, "ConvNetConfig.num_blocks must be >= 1"),
        (tiny_convnet, {"norm_eps": 0.0}, "norm_eps must be > 0"),
    ],
)
def test_invalid_baseline_configs_are_refused(make, changes: dict, phrase: str) -> None:
    with pytest.raises(ValueError) as info:
        make().replace(**changes)
    assert phrase in str(info.value)
