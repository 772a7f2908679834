"""The recurrent conv net (DT-recall): the TRM interface, grid sizes, the carried latent,
progressive training, checkpoints, parameter matching, learning, and a run of the trainer."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from baselines.models import DTNetConfig, DTNetModel, matched_dtnet_config
from trm_rl.model import TRM, TRMConfig, build_model, config_from_dict
from trm_rl.model.checkpoint import CONFIG_NAME, load_checkpoint, load_config, save_checkpoint
from trm_rl.model.losses import act_loss
from trm_rl.model.trm import SolveResult, TRMCarry
from trm_rl.supervised.config import resolve_train, train_args
from trm_rl.supervised.trainer import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(**changes) -> DTNetConfig:
    base = dict(vocab_size=6, seq_len=16, grid_width=4, width=8, block_layers=1, iterations=4)
    return DTNetConfig(**{**base, **changes})


def make_batch(size: int, cells: int, seed: int = 0, vocab: int = 6) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        "inputs": torch.randint(1, vocab, (size, cells), generator=gen),
        "labels": torch.randint(1, vocab, (size, cells), generator=gen),
    }


def model_of(config: DTNetConfig, seed: int = 0) -> DTNetModel:
    torch.manual_seed(seed)
    return DTNetModel(config)


def conv_nodes(output: torch.Tensor) -> int:
    """Convolutions in the autograd graph of ``output`` (each iteration with gradients adds
    ``convs_per_iteration``)."""
    seen, stack, count = set(), [output.grad_fn], 0
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        count += "Convolution" in type(node).__name__
        stack.extend(next_node for next_node, _ in node.next_functions)
    return count


# ---------------------------------------------------------------------------------- interface
def test_the_trm_interface_and_the_act_loss() -> None:
    cfg = tiny()
    model = build_model(cfg)
    assert type(model) is DTNetModel and model.config is cfg and model.puzzle_emb is None
    assert (cfg.kind, cfg.act, cfg.halt_max_steps, cfg.any_grid_size) == ("dtnet", True, 1, True)
    assert model.num_parameters() == cfg.num_parameters
    batch = make_batch(5, 16, seed=1)
    carry = model.initial_carry(batch)
    assert isinstance(carry, TRMCarry) and carry.halted.all() and carry.steps.tolist() == [0] * 5
    assert carry.inner.z_H.shape == (5, 16, 8)
    carry, out = model(carry, batch)
    assert out["logits"].shape == (5, 16, 6)
    assert out["q_halt_logits"].shape == out["q_continue_logits"].shape == (5,)
    torch.testing.assert_close(out["q_halt_logits"], torch.full((5,), -5.0))  # q_head init
    assert carry.halted.all() and carry.steps.tolist() == [1] * 5  # halt_max_steps = 1
    assert not carry.inner.z_H.requires_grad  # the carry leaves detached
    act_loss(out, carry).loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ValueError, match="carry must be a TRMCarry"):
        model({"halted": None}, batch)
    with pytest.raises(ValueError, match="carry is for 5 rows but the batch has 3"):
        model(carry, make_batch(3, 16))


@pytest.mark.parametrize(("rows", "cols"), [(4, 4), (7, 5), (15, 15)])
def test_shapes_on_grids_of_any_size(rows: int, cols: int) -> None:
    model = model_of(tiny()).eval()
    batch = {k: v.view(3, rows, cols) for k, v in make_batch(3, rows * cols).items()}
    carry, out = model(model.initial_carry(batch), batch)
    assert out["logits"].shape == (3, rows * cols, 6)
    assert carry.inner.z_H.shape == (3, rows * cols, 8)
    assert torch.isfinite(act_loss(out, carry).loss)
    res = model.solve(batch["inputs"], max_steps=3, halt=False)
    assert isinstance(res, SolveResult) and res.predictions.shape == (3, rows * cols)
    assert res.trajectory_predictions.shape == (3, 3, rows * cols) and res.steps.tolist() == [3] * 3
    if (rows, cols) == (4, 4):  # flat inputs are read with grid_width columns
        flat = model.solve(batch["inputs"].flatten(1), max_steps=3, halt=False)
        assert torch.equal(flat.predictions, res.predictions)


def test_eval_is_deterministic_and_solve_ignores_the_mode() -> None:
    model = model_of(tiny())
    batch = make_batch(4, 16, seed=2)
    model.eval()
    outputs = [model(model.initial_carry(batch), batch)[1]["logits"] for _ in range(2)]
    assert torch.equal(outputs[0], outputs[1])
    evaluated = model.solve(batch["inputs"], max_steps=2, halt=False)
    model.train()  # solve draws nothing, in either mode
    trained = model.solve(batch["inputs"], max_steps=2, halt=False)
    assert torch.equal(evaluated.trajectory_predictions, trained.trajectory_predictions)
    # In training the progressive draws make outputs vary from call to call.
    torch.manual_seed(0)
    draws = {int(model.no_grad_iterations(True)) for _ in range(50)}
    assert draws == set(range(4))


def test_the_carried_latent_is_used_and_fresh_rows_ignore_it() -> None:
    model = model_of(tiny(halt_max_steps=3)).eval()
    batch = make_batch(3, 16, seed=4)
    carry, first = model(model.initial_carry(batch), batch)
    assert not carry.halted.any() and carry.steps.tolist() == [1, 1, 1]
    carry, second = model(carry, make_batch(3, 16, seed=5))  # rows keep their examples
    assert torch.equal(carry.current_data["inputs"], batch["inputs"])
    assert not torch.equal(first["logits"], second["logits"])  # thinking went on
    # Two steps of 4 iterations are one step of 8 (the same weights): the latent carries over.
    deep = model_of(tiny(iterations=8)).eval()
    deep.load_state_dict(model.state_dict())
    _, once = deep(deep.initial_carry(batch), batch)
    torch.testing.assert_close(second["logits"], once["logits"])
    # ... and the same as solve's second step.
    solved = model.solve(batch["inputs"], max_steps=2, halt=False)
    assert torch.equal(solved.trajectory_predictions[1], second["logits"].argmax(-1))

    # A changed latent changes the output of a row that keeps working ...
    carry, _ = model(model.initial_carry(batch), batch)
    carry.inner.z_H[1] = 5.0 * torch.randn_like(carry.inner.z_H[1])
    carry.halted[0] = True  # ... while a fresh row starts from its input, whatever it holds
    carry.inner.z_H[0] = 5.0 * torch.randn_like(carry.inner.z_H[0])
    new = make_batch(3, 16, seed=6)
    _, out = model(carry, new)
    _, fresh = model(model.initial_carry(new), new)
    torch.testing.assert_close(out["logits"][0], fresh["logits"][0])
    unchanged, _ = model(model.initial_carry(batch), batch)
    _, step_two = model(unchanged, batch)
    assert not torch.allclose(out["logits"][1], step_two["logits"][1])
    torch.testing.assert_close(out["logits"][2], step_two["logits"][2])


# ----------------------------------------------------------------------- progressive training
@pytest.mark.parametrize("recall", [True, False])
def test_gradients_flow_only_through_the_last_iterations(recall: bool) -> None:
    cfg = tiny(iterations=6, recall=recall)
    model = model_of(cfg).train()
    per = cfg.convs_per_iteration
    assert per == 2 + int(recall)
    batch = make_batch(2, 16)
    depths = set()
    for seed in range(12):
        torch.manual_seed(seed)
        frozen = int(torch.randint(cfg.iterations, ()))  # the draw the step makes
        torch.manual_seed(seed)
        _, out = model(model.initial_carry(batch), batch)
        assert conv_nodes(out["logits"]) == (cfg.iterations - frozen) * per, seed
        depths.add(frozen)
    assert len(depths) > 2  # the split point moves
    model.eval()  # all iterations with gradients, no draw
    _, out = model(model.initial_carry(batch), batch)
    assert conv_nodes(out["logits"]) == cfg.iterations * per
    model = model_of(cfg.replace(progressive=False)).train()
    _, out = model(model.initial_carry(batch), batch)
    assert conv_nodes(out["logits"]) == cfg.iterations * per


def test_early_iterations_run_without_gradients() -> None:
    cfg = tiny(iterations=5)
    model = model_of(cfg).train()
    grad_modes: list[bool] = []
    model.recall_conv.register_forward_hook(lambda *_: grad_modes.append(torch.is_grad_enabled()))
    batch = make_batch(2, 16)
    torch.manual_seed(3)
    frozen = int(torch.randint(cfg.iterations, ()))
    torch.manual_seed(3)
    model(model.initial_carry(batch), batch)
    assert frozen > 0 and grad_modes == [False] * frozen + [True] * (cfg.iterations - frozen)


# -------------------------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip(tmp_path: Path) -> None:
    cfg = tiny(recall=True, halt_max_steps=2, iterations=3)
    model = model_of(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))  # also moves the zero-initialised Q head
    folder = save_checkpoint(model, tmp_path / "dtnet")
    assert json.loads((folder / CONFIG_NAME).read_text())["kind"] == "dtnet"
    assert load_config(folder) == cfg
    loaded = load_checkpoint(folder)
    assert type(loaded) is DTNetModel and loaded.config == cfg
    inputs = make_batch(3, 16)["inputs"]
    a = model.eval().solve(inputs, max_steps=3, halt=False)
    b = loaded.eval().solve(inputs, max_steps=3, halt=False)
    assert torch.equal(a.trajectory_predictions, b.trajectory_predictions)
    assert torch.equal(a.trajectory_halt_probs, b.trajectory_halt_probs)


def test_configs_round_trip_and_refuse() -> None:
    cfg = tiny(recall=False, progressive=False, halt_max_steps=4)
    assert config_from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert cfg.replace() == cfg and cfg.convs_per_iteration == 2
    assert build_model(cfg).num_parameters() == cfg.num_parameters
    with pytest.raises(ValueError, match="DTNetModel needs a DTNetConfig"):
        DTNetModel(TRMConfig())
    for changes, phrase in [
        ({"iterations": 0}, "DTNetConfig.iterations must be >= 1, got 0"),
        ({"width": 0}, "DTNetConfig.width must be >= 1"),
        ({"halt_max_steps": 0}, "DTNetConfig.halt_max_steps must be >= 1"),
        ({"recall": 1}, "DTNetConfig.recall must be True or False"),
        ({"grid_width": None}, "DTNetConfig: grid_width is required"),
        ({"grid_width": 5}, "seq_len (16) must be divisible by grid_width (5)"),
        ({"depth": 3}, "unknown fields ['depth']"),
    ]:
        with pytest.raises(ValueError) as info:
            tiny().replace(**changes)
        assert phrase in str(info.value)


def test_bfloat16_runs_under_autocast() -> None:
    model = model_of(tiny(forward_dtype="bfloat16"))
    batch = make_batch(2, 16)
    carry, out = model(model.initial_carry(batch), batch)
    assert out["q_halt_logits"].dtype == torch.float32 and carry.inner.z_H.dtype == torch.bfloat16
    act_loss(out, carry).loss.backward()
    assert all(p.dtype == torch.float32 for p in model.parameters())


# ----------------------------------------------------------------------------------- matching
@pytest.mark.parametrize(
    "name", ["cpu-sudoku-4x4", "cpu-sudoku-9x9", "cpu-maze-9x9", "cpu-maze-conv"]
)
def test_parameters_match_the_trm_within_5_percent(name: str) -> None:
    trm_config = TRMConfig.preset(name)
    with torch.device("meta"):
        target = TRM(trm_config).num_parameters()
        for cfg in (
            matched_dtnet_config(trm_config),
            matched_dtnet_config(trm_config, recall=False, iterations=30),
        ):
            assert build_model(cfg).num_parameters() == cfg.num_parameters
            assert abs(cfg.num_parameters - target) <= 0.05 * target, (name, cfg)
            assert (cfg.vocab_size, cfg.seq_len) == (trm_config.vocab_size, trm_config.seq_len)
    assert matched_dtnet_config(trm_config, iterations=30).iterations == 30


def test_matching_with_a_fixed_width_solves_the_block_count() -> None:
    trm_config = TRMConfig.preset("cpu-maze-9x9")
    with torch.device("meta"):
        target = TRM(trm_config).num_parameters()
    cfg = matched_dtnet_config(trm_config, width=64)
    assert cfg.width == 64
    gaps = {n: abs(cfg.replace(block_layers=n).num_parameters - target) for n in range(1, 9)}
    assert cfg.block_layers == min(gaps, key=gaps.get)  # a block is coarse: 18 * width**2
    trm_config = trm_config.replace(seq_len=12)
    with pytest.raises(ValueError, match="pass grid_width=<columns of the grid>"):
        matched_dtnet_config(trm_config)
    assert matched_dtnet_config(trm_config, grid_width=4).grid_width == 4


# ----------------------------------------------------------------------------------- learning
def test_loss_falls_on_a_fixed_batch() -> None:
    model = model_of(tiny(width=16, iterations=3))
    batch = make_batch(8, 16, seed=3)
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        carry, out = model(model.initial_carry(batch), batch)
        loss = act_loss(out, carry).lm_loss / 8
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses


# ---------------------------------------------------------------------------------- trm-rl
def test_the_run_config_resolves_a_matched_dtnet() -> None:
    cfg = resolve_train(train_args("maze-9x9", steps=3, model={"kind": "dtnet"}))
    model = cfg.model
    assert isinstance(model, DTNetConfig) and cfg.kind == "dtnet"
    assert (model.vocab_size, model.seq_len, model.grid_width) == (6, 81, 9)
    with torch.device("meta"):
        target = TRM(resolve_train(train_args("maze-9x9", steps=3)).model).num_parameters()
    assert abs(model.num_parameters - target) <= 0.05 * target
    set_by_user = {"kind": "dtnet", "iterations": 7, "recall": False, "halt_max_steps": 2}
    custom = resolve_train(train_args("maze-9x9", steps=3, model=set_by_user)).model
    assert (custom.iterations, custom.recall, custom.halt_max_steps) == (7, False, 2)
    assert abs(custom.num_parameters - target) <= 0.05 * target  # matched without recall
    whole = {"kind": "dtnet", "width": 12, "block_layers": 3, "recall": True}
    assert resolve_train(train_args("maze-9x9", steps=3, model=whole)).model.width == 12
    with pytest.raises(ValueError, match=r"--model.kind dtnet has no field\(s\) \['H_cycles'\]"):
        resolve_train(train_args("maze-9x9", steps=3, model={"kind": "dtnet", "H_cycles": 2}))


def test_the_trainer_trains_and_saves_it(tmp_path: Path) -> None:
    model = {"kind": "dtnet", "width": 8, "block_layers": 1, "iterations": 3, "halt_max_steps": 2}
    args = train_args(
        "maze-9x9", steps=4, model=model, out=tmp_path / "run", progress=False, eval_size=8,
        tensorboard=False, optim={"batch_size": 4},
    )  # fmt: skip
    run = train(resolve_train(args))
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert int(rows[-1]["step"]) == 4 and float(rows[-1]["train/loss"]) > 0
    loaded = load_checkpoint(run / "checkpoint")
    assert type(loaded) is DTNetModel and loaded.config.halt_max_steps == 2
