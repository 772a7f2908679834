"""The units mixer: a TRM whose cells read their Sudoku peers (row, column and box)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from envs.sudoku.types import BOX_SHAPES
from trm_rl.data.sudoku_grids import all_grids, dig, split_grids
from trm_rl.model import SUDOKU_BOX_SHAPES, TRM, TRMConfig
from trm_rl.model.checkpoint import load_checkpoint, save_checkpoint
from trm_rl.model.layers import Block, UnitMixer
from trm_rl.model.losses import act_loss

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIDES = (4, 6, 9)


def units_config(side: int = 4, **changes) -> TRMConfig:
    """A tiny units TRM for N x N Sudoku (hidden 16, exact widths, no prefix)."""
    base = dict(
        vocab_size=side + 2, seq_len=side * side, hidden_size=16, num_heads=4, num_layers=2,
        H_cycles=2, L_cycles=2, mixer="units", pos_encodings="none", puzzle_emb_len=0,
        puzzle_emb_ndim=0, halt_max_steps=3, halt_exploration_prob=0.0, swiglu_multiple=1,
    )  # fmt: skip
    return TRMConfig(**{**base, **changes})


def random_batch(cfg: TRMConfig, size: int = 3, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    shape = (size, cfg.seq_len)
    return {
        "inputs": torch.randint(1, cfg.vocab_size, shape, generator=gen),
        "labels": torch.randint(2, cfg.vocab_size, shape, generator=gen),
    }


def eval_step(model: TRM, batch: dict) -> tuple:
    """Carry and outputs of one eval supervision step from a fresh carry."""
    with torch.no_grad():
        return model.eval()(model.initial_carry(batch), batch)


def peers(side: int, cell: int) -> torch.Tensor:
    """[N * N] bool: the cells sharing a row, a column or a box with ``cell`` (not itself)."""
    box_rows, box_cols = BOX_SHAPES[side]
    rows, cols = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    r, c = divmod(cell, side)
    same_box = (rows // box_rows == r // box_rows) & (cols // box_cols == c // box_cols)
    mask = (rows == r) | (cols == c) | same_box
    mask[r, c] = False
    return mask.flatten()


# ------------------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("side", SIDES)
def test_shapes_for_every_board(side: int) -> None:
    torch.manual_seed(0)
    cfg = units_config(side)
    assert cfg.sudoku_board == (side, *BOX_SHAPES[side])
    model = TRM(cfg)
    batch = random_batch(cfg)
    carry, out = model(model.initial_carry(batch), batch)
    cells = side * side
    assert out["logits"].shape == (3, cells, cfg.vocab_size)
    assert out["q_halt_logits"].shape == out["q_continue_logits"].shape == (3,)
    assert carry.inner.z_H.shape == carry.inner.z_L.shape == (3, cells, cfg.hidden_size)
    assert torch.isfinite(act_loss(out, carry).loss)
    res = model.eval().solve(batch["inputs"], max_steps=2, halt=False)
    assert res.predictions.shape == (3, cells) and res.trajectory_predictions.shape == (2, 3, cells)


def test_box_shapes_follow_the_envs() -> None:
    assert SUDOKU_BOX_SHAPES == BOX_SHAPES


# ---------------------------------------------------------------------------------- locality
@pytest.mark.parametrize("side", SIDES)
def test_mixer_reads_exactly_the_peers(side: int) -> None:
    """One mixer application: a cell's output moves with each of its peers, stays bitwise equal
    when a non-peer moves, and does not depend on the cell's own state (the residual has it)."""
    torch.manual_seed(0)
    mixer = UnitMixer(8, side, BOX_SHAPES[side])
    h = torch.randn(2, side * side, 8)
    base = mixer(h)
    for cell in range(side * side):
        changed = h.clone()
        changed[:, cell] += torch.randn(8)
        diff = (mixer(changed) - base).abs().sum(-1)  # [2, cells]
        near = peers(side, cell)
        far = ~near
        far[cell] = False
        assert (diff[:, near] > 0).all(), f"cell {cell}: a peer did not move it"
        assert (diff[:, far] == 0).all(), f"cell {cell}: a non-peer moved"
        assert diff[:, cell].max() < 1e-5, f"cell {cell}: the mixer reads the cell itself"


def test_one_block_sees_the_cell_and_its_peers_only() -> None:
    torch.manual_seed(0)
    block = Block(units_config(9))
    h = torch.randn(1, 81, 16)
    base = block(h, None)
    for cell in (0, 40, 53, 80):
        changed = h.clone()
        changed[0, cell] += 1.0
        diff = (block(changed, None) - base).abs().sum(-1)[0]
        seen = peers(9, cell)
        seen[cell] = True
        assert (diff[seen] > 0).all() and (diff[~seen] == 0).all()
        assert int(seen.sum()) == 21  # the cell and its 20 peers


def test_a_prefix_stays_outside_the_board() -> None:
    """Prefix positions only pass through the norms and the channel MLP: the puzzle embedding
    never reaches the board, so logits and the (pooled) Q head ignore it."""
    torch.manual_seed(0)
    cfg = units_config(6, puzzle_emb_len=2, puzzle_emb_ndim=32, num_puzzle_identifiers=3)
    assert cfg.prefix_len == 2 and cfg.pooled_q_head
    model = TRM(cfg)
    with torch.no_grad():
        model.puzzle_emb.weight.normal_()
        model.q_head.weight.normal_()
    batch = random_batch(cfg)
    _, out0 = eval_step(model, {**batch, "puzzle_identifiers": torch.tensor([0, 0, 0])})
    carry, out1 = eval_step(model, {**batch, "puzzle_identifiers": torch.tensor([1, 2, 0])})
    assert carry.inner.z_H.shape == (3, 2 + 36, 16) and out1["logits"].shape == (3, 36, 8)
    assert torch.equal(out0["logits"], out1["logits"])
    assert torch.equal(out0["q_halt_logits"], out1["q_halt_logits"])
    expected = model.q_head(carry.inner.z_H[:, 2:].mean(dim=1)).float()
    torch.testing.assert_close(out1["q_halt_logits"], expected[:, 0], rtol=0, atol=0)


# ------------------------------------------------------------------------------- equivariance
def _row_order(side: int, swap: tuple[int, int]) -> torch.Tensor:
    order = torch.arange(side)
    order[list(swap)] = order[list(swap[::-1])]
    return order


def _band_order(side: int, box_rows: int, swap: tuple[int, int]) -> torch.Tensor:
    bands = _row_order(side // box_rows, swap)
    return (bands[:, None] * box_rows + torch.arange(box_rows)).flatten()


def _symmetries(side: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Named (row order, column order) pairs that map every unit onto a unit of its type."""
    box_rows, box_cols = BOX_SHAPES[side]
    same = torch.arange(side)
    return {
        "rows 0, 1 (one band)": (_row_order(side, (0, 1)), same),
        "bands 0, 1": (_band_order(side, box_rows, (0, 1)), same),
        "columns 0, last of stack 0": (same, _row_order(side, (0, box_cols - 1))),
        "stacks 0, last": (same, _band_order(side, box_cols, (0, side // box_cols - 1))),
    }


@pytest.mark.parametrize("side", (6, 9))
def test_the_model_is_equivariant_under_sudoku_symmetries(side: int) -> None:
    torch.manual_seed(0)
    model = TRM(units_config(side, num_layers=1))
    with torch.no_grad():
        model.q_head.weight.normal_()
    batch = random_batch(model.config, size=2)
    _, out = eval_step(model, batch)
    logits = out["logits"].view(2, side, side, -1)
    for name, (rows, cols) in _symmetries(side).items():
        moved = batch["inputs"].view(2, side, side)[:, rows][:, :, cols].reshape(2, -1)
        _, out2 = eval_step(model, {"inputs": moved, "labels": batch["labels"]})
        expected = logits[:, rows][:, :, cols].reshape(2, side * side, -1)
        torch.testing.assert_close(out2["logits"], expected, rtol=1e-4, atol=1e-5, msg=name)
        torch.testing.assert_close(out2["q_halt_logits"], out["q_halt_logits"], msg=name)
    # Rows and columns have their own weights: the transpose is not a symmetry of the model.
    if side == 9:
        transposed = batch["inputs"].view(2, 9, 9).transpose(1, 2).reshape(2, 81)
        _, out_t = eval_step(model, {"inputs": transposed, "labels": batch["labels"]})
        assert not torch.allclose(out_t["logits"], logits.transpose(1, 2).reshape(2, 81, -1))


# --------------------------------------------------------------------------------- parameters
@pytest.mark.parametrize(
    "changes",
    [{}, {"hidden_size": 24, "num_layers": 3}, {"mlp_type": "relu"}, {"separate_networks": True}],
)
@pytest.mark.parametrize("side", SIDES)
def test_parameter_count(side: int, changes: dict) -> None:
    """embed V*D + lm_head D*V + q_head 2D+2 + nets * layers * (mixer 3D^2 + channel MLP)."""
    cfg = units_config(side, **changes)
    d, v, w = cfg.hidden_size, cfg.vocab_size, cfg.mlp_width
    channel = (3 if cfg.mlp_type == "swiglu" else 2) * d * w
    nets = 2 if cfg.separate_networks else 1
    expected = 2 * v * d + 2 * d + 2 + nets * cfg.num_layers * (3 * d * d + channel)
    with torch.device("meta"):
        assert TRM(cfg).num_parameters() == expected


def test_preset() -> None:
    cfg = TRMConfig.preset("cpu-sudoku-units")
    nine = TRMConfig.preset("cpu-sudoku-9x9")
    assert (cfg.mixer, cfg.sudoku_board, cfg.prefix_len, cfg.pos_encodings) == (
        "units", (9, 3, 3), 0, "none")  # fmt: skip
    for name in ("hidden_size", "H_cycles", "L_cycles", "num_layers", "halt_max_steps"):
        assert getattr(cfg, name) == getattr(nine, name), name
    with torch.device("meta"):
        assert TRM(cfg).num_parameters() == 363_266  # 2 * (3 * 128^2 + 3 * 128 * 341) + heads
    for side in (4, 6):
        small = TRMConfig.preset("cpu-sudoku-units", seq_len=side * side, vocab_size=side + 2)
        assert small.sudoku_board == (side, *BOX_SHAPES[side])


# ------------------------------------------------------------------------ training and export
def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    model = TRM(units_config(6)).train()
    with torch.no_grad():
        model.q_head.weight.normal_()
    batch = random_batch(model.config, size=4)
    carry, out = model(model.initial_carry(batch), batch)
    act_loss(out, carry).loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_bfloat16_forward() -> None:
    model = TRM(units_config(9, forward_dtype="bfloat16"))
    batch = random_batch(model.config, size=2)
    carry, out = model(model.initial_carry(batch), batch)
    assert out["logits"].dtype == carry.inner.z_H.dtype == torch.bfloat16
    act_loss(out, carry).loss.backward()
    assert model.net.layers[0].units.weight.grad.dtype == torch.float32


def test_checkpoint_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    model = TRM(units_config(9, puzzle_emb_len=1, puzzle_emb_ndim=16))
    with torch.no_grad():
        model.q_head.weight.normal_()
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "units"))
    assert isinstance(loaded, TRM) and loaded.config == model.config
    assert loaded.config.to_dict()["mixer"] == "units"
    batch = random_batch(model.config, size=2)
    (_, a), (_, b) = eval_step(model, batch), eval_step(loaded, batch)
    assert torch.equal(a["logits"], b["logits"])
    assert torch.equal(a["q_halt_logits"], b["q_halt_logits"])


@pytest.mark.slow
def test_compiled_network_matches_eager() -> None:
    torch.manual_seed(0)
    model = TRM(units_config(9)).eval()
    batch = random_batch(model.config, size=2)
    eager = eval_step(model, batch)[1]
    out = eval_step(model.compile_network(), batch)[1]
    torch.testing.assert_close(out["logits"], eager["logits"], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out["q_halt_logits"], eager["q_halt_logits"])


def _sudoku_4x4(grid_ids: np.ndarray, seed: int) -> dict:
    """Unique-solution 4x4 puzzles (4-8 givens) of the given solution grids, as tokens."""
    puzzles = dig(np.random.default_rng(seed), grid_ids, givens=(4, 8))
    return {
        "inputs": torch.as_tensor(puzzles.astype(np.int64) + 1),  # blank 0 -> 1, digit d -> d+1
        "labels": torch.as_tensor(all_grids()[grid_ids].astype(np.int64) + 1),
    }


def test_loss_decreases() -> None:
    torch.manual_seed(0)
    model = TRM(units_config(4, H_cycles=1, L_cycles=2, halt_max_steps=2)).train()
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    batch = _sudoku_4x4(np.arange(0, 288, 9), seed=0)
    carry, losses = model.initial_carry(batch), []
    for _ in range(40):
        carry, out = model(carry, batch)
        loss = act_loss(out, carry).loss / len(batch["inputs"])
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5]), losses


@pytest.mark.slow
def test_learns_to_solve_unseen_4x4_sudokus() -> None:
    """Trained on the puzzles of 208 grids for at most ~30 s, it solves most puzzles of 40
    unseen grids (exact answers)."""
    torch.manual_seed(0)
    train, _, test = split_grids(seed=0, heldout=40)
    model = TRM(units_config(4, hidden_size=32, H_cycles=2, L_cycles=2, halt_max_steps=4))
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    rng = np.random.default_rng(0)
    held_out = _sudoku_4x4(test, seed=1)
    batch = _sudoku_4x4(rng.choice(train, 64), seed=2)
    carry, start, solved = model.initial_carry(batch), time.perf_counter(), 0.0
    for step in range(1, 1001):
        model.train()
        batch = _sudoku_4x4(rng.choice(train, 64), seed=step + 2)
        carry, out = model(carry, batch)
        loss = act_loss(out, carry).loss / 64
        optim.zero_grad()
        loss.backward()
        optim.step()
        if step % 50 == 0:
            pred = model.eval().solve(held_out["inputs"], halt=False).predictions
            solved = (pred == held_out["labels"]).all(dim=1).float().mean().item()
            if solved >= 0.9 or time.perf_counter() - start > 30:
                break
    assert solved >= 0.9, f"solved {solved:.0%} of unseen puzzles after {step} steps"


# ---------------------------------------------------------------------------- refused input
@pytest.mark.parametrize(
    ("changes", "phrase"),
    [
        ({"seq_len": 25}, "the units mixer needs a square N x N Sudoku with N in [4, 6, 9]"),
        ({"seq_len": 64}, "seq_len must be one of [16, 36, 81], got seq_len=64"),
        ({"seq_len": 80}, "got seq_len=80"),
        ({"seq_len": 81, "grid_width": 27}, "grid_width must be None or 9"),
        ({"seq_len": 36, "grid_width": 4}, "got grid_width=4"),
        ({"pos_encodings": "rope"}, "the units mixer takes no position encodings"),
        ({"pos_encodings": "learned"}, "set pos_encodings='none'"),
    ],
)
def test_invalid_configs_are_refused(changes: dict, phrase: str) -> None:
    with pytest.raises(ValueError, match="TRMConfig") as info:
        units_config(**changes)
    assert phrase in str(info.value)


def test_grid_width_may_document_the_side() -> None:
    assert units_config(9, grid_width=9).sudoku_board == (9, 3, 3)
    assert not units_config(9).any_grid_size  # the board size is fixed by seq_len


def test_official_export_is_refused() -> None:
    with pytest.raises(ValueError, match="the official TRM has no equivalent of") as info:
        units_config(swiglu_multiple=256).to_official()
    assert str(info.value).endswith("""["mixer='units'"]""")


def test_other_sizes_are_refused_at_the_batch() -> None:
    model = TRM(units_config(9))
    with pytest.raises(ValueError, match=r"got \[2, 9, 9\]; flatten each grid to 81 tokens"):
        model.initial_carry({"inputs": torch.ones(2, 9, 9, dtype=torch.long)})
    with pytest.raises(ValueError, match=r"\[B, 81\], got \[2, 16\]"):
        model.initial_carry({"inputs": torch.ones(2, 16, dtype=torch.long)})
