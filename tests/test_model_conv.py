"""The conv mixer: a TRM that thinks locally and runs on grids of any size."""

from __future__ import annotations

import pytest
import torch

from trm_rl.model import TRM, TRMConfig
from trm_rl.model.checkpoint import load_checkpoint, save_checkpoint
from trm_rl.model.layers import GridConv
from trm_rl.model.losses import act_loss

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def conv_config(**changes) -> TRMConfig:
    """A tiny conv TRM for 5x5 grids (hidden 16, exact widths, no prefix)."""
    base = dict(
        vocab_size=6, seq_len=25, grid_width=5, hidden_size=16, num_heads=4, num_layers=2,
        H_cycles=2, L_cycles=2, mixer="conv", pos_encodings="none", puzzle_emb_len=0,
        puzzle_emb_ndim=0, halt_max_steps=3, halt_exploration_prob=0.0, swiglu_multiple=1,
    )  # fmt: skip
    return TRMConfig(**{**base, **changes})


def grid_batch(size: int, rows: int, cols: int, vocab: int = 6, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return {
        "inputs": torch.randint(1, vocab, (size, rows, cols), generator=gen),
        "labels": torch.randint(1, vocab, (size, rows, cols), generator=gen),
    }


def eval_step(model: TRM, batch: dict) -> tuple:
    """Logits and Q logits of one eval supervision step from a fresh carry."""
    with torch.no_grad():
        carry, out = model.eval()(model.initial_carry(batch), batch)
    return carry, out


# ------------------------------------------------------------------------------------- shapes
@pytest.mark.parametrize(("rows", "cols"), [(5, 5), (1, 1), (3, 7), (9, 4), (16, 16)])
def test_one_model_runs_on_grids_of_any_size(rows: int, cols: int) -> None:
    torch.manual_seed(0)
    cfg = conv_config()
    model = TRM(cfg)
    batch = grid_batch(3, rows, cols)
    carry, out = model(model.initial_carry(batch), batch)
    cells = rows * cols
    assert out["logits"].shape == (3, cells, cfg.vocab_size)
    assert out["q_halt_logits"].shape == out["q_continue_logits"].shape == (3,)
    assert carry.inner.z_H.shape == carry.inner.z_L.shape == (3, cells, cfg.hidden_size)
    loss = act_loss(out, carry)  # [B, H, W] labels are flattened like the logits
    assert torch.isfinite(loss.loss) and loss.predictions.shape == (3, cells)
    res = model.eval().solve(batch["inputs"], max_steps=4, halt=False)
    assert res.predictions.shape == (3, cells)
    assert res.trajectory_predictions.shape == (4, 3, cells)


def test_flat_and_grid_inputs_agree() -> None:
    torch.manual_seed(0)
    model = TRM(conv_config())
    grid = grid_batch(4, 5, 5)
    flat = {k: v.flatten(1) for k, v in grid.items()}
    mixed = {"inputs": grid["inputs"], "labels": flat["labels"]}  # [B, H*W] labels with a grid
    outs = [eval_step(model, batch) for batch in (grid, flat, mixed)]
    for carry, out in outs[1:]:
        assert torch.equal(out["logits"], outs[0][1]["logits"])
        assert torch.equal(out["q_halt_logits"], outs[0][1]["q_halt_logits"])
        loss = act_loss(out, carry).loss
        assert torch.equal(loss, act_loss(outs[0][1], outs[0][0]).loss)


def test_no_weight_depends_on_the_grid_size() -> None:
    small, large = TRM(conv_config()), TRM(conv_config(seq_len=121, grid_width=11))
    shapes = {k: v.shape for k, v in small.state_dict().items()}
    assert shapes == {k: v.shape for k, v in large.state_dict().items()}
    assert small.H_init.shape == small.L_init.shape == (16,)  # per channel, broadcast
    assert small.embed_pos is None and small.net.rotary is None
    assert {k.split(".")[-1] for k in shapes if ".conv." in k} == {"depthwise_weight", "weight"}


# ---------------------------------------------------------------------------------- locality
def test_grid_conv_sees_exactly_the_3x3_neighbourhood() -> None:
    torch.manual_seed(0)
    conv = GridConv(8)
    h = torch.randn(1, 6 * 7, 8)
    changed = h.clone()
    changed[0, 3 * 7 + 2] += 1.0  # the cell (3, 2)
    diff = (conv(changed, (6, 7)) - conv(h, (6, 7))).abs().sum(-1).view(6, 7)
    rows, cols = torch.meshgrid(torch.arange(6), torch.arange(7), indexing="ij")
    near = ((rows - 3).abs() <= 1) & ((cols - 2).abs() <= 1)
    assert (diff[near] > 0).all() and (diff[~near] == 0).all()


def test_receptive_field_of_one_supervision_step() -> None:
    """H1/L1 and 1 layer: z_L <- net(z_L + z_H + x), z_H <- net(z_H + z_L): two 3x3 convs, so a
    token moves the logits of the cells within 2 (Chebyshev) steps and of no other cell."""
    torch.manual_seed(0)
    model = TRM(conv_config(num_layers=1, H_cycles=1, L_cycles=1)).eval()
    batch = grid_batch(1, 9, 9)
    changed = {k: v.clone() for k, v in batch.items()}
    changed["inputs"][0, 4, 6] = 1 + changed["inputs"][0, 4, 6] % 5  # another token
    _, out = eval_step(model, batch)
    _, out2 = eval_step(model, changed)
    diff = (out2["logits"] - out["logits"]).abs().sum(-1).view(9, 9)
    rows, cols = torch.meshgrid(torch.arange(9), torch.arange(9), indexing="ij")
    distance = torch.maximum((rows - 4).abs(), (cols - 6).abs())
    assert (diff[distance > 2] == 0).all()  # far cells: bitwise unchanged
    assert (diff[distance <= 2] > 0).all()


# ------------------------------------------------------------------------------ larger grids
def test_a_model_built_for_11x11_runs_on_15x15_and_31x31() -> None:
    torch.manual_seed(0)
    cfg = TRMConfig.preset("cpu-maze-conv", hidden_size=16, L_cycles=1)
    assert cfg.seq_len == 121 and cfg.grid_width == 11
    model = TRM(cfg).eval()
    for side in (11, 15, 31):
        batch = grid_batch(2, side, side)
        carry, out = eval_step(model, batch)
        assert out["logits"].shape == (2, side * side, 6) and torch.isfinite(out["logits"]).all()
        assert carry.inner.z_H.shape == (2, side * side, 16)
        res = model.solve(batch["inputs"], max_steps=cfg.halt_max_steps + 2, halt=False)
        assert res.steps.tolist() == [cfg.halt_max_steps + 2] * 2  # think longer than trained
        assert res.predictions.shape == (2, side * side)


def test_a_carry_serves_one_grid_size() -> None:
    model = TRM(conv_config())
    carry = model.initial_carry(grid_batch(2, 5, 5))
    with pytest.raises(ValueError, match=r"has shape \[2, 7, 7\] but the carry holds \[2, 5, 5\]"):
        model(carry, grid_batch(2, 7, 7))


# ----------------------------------------------------------------------------------- Q head
def test_q_head_reads_the_grid_mean_without_a_prefix() -> None:
    torch.manual_seed(0)
    model = TRM(conv_config())
    assert model.config.pooled_q_head and model.config.prefix_len == 0
    with torch.no_grad():
        model.q_head.weight.normal_()
    batch = grid_batch(3, 4, 6)
    carry, out = eval_step(model, batch)
    expected = model.q_head(carry.inner.z_H.mean(dim=1)).float()
    torch.testing.assert_close(out["q_halt_logits"], expected[:, 0], rtol=0, atol=0)


def test_attention_without_a_prefix_pools_too() -> None:
    torch.manual_seed(0)
    cfg = conv_config(mixer="attention", grid_width=None)
    assert cfg.pooled_q_head
    model = TRM(cfg)
    with torch.no_grad():
        model.q_head.weight.normal_()
    batch = {k: v.flatten(1) for k, v in grid_batch(3, 5, 5).items()}
    carry, out = eval_step(model, batch)
    expected = model.q_head(carry.inner.z_H.mean(dim=1)).float()
    torch.testing.assert_close(out["q_halt_logits"], expected[:, 0], rtol=0, atol=0)
    assert not TRMConfig.preset("cpu-maze-9x9").pooled_q_head  # with a prefix: position 0


def test_a_prefix_stays_outside_the_grid() -> None:
    """Prefix positions only pass through the norms and the channel MLP: the puzzle embedding
    never reaches the grid, so logits and the (pooled) Q head ignore it."""
    torch.manual_seed(0)
    model = TRM(conv_config(puzzle_emb_len=2, puzzle_emb_ndim=32, num_puzzle_identifiers=3))
    assert model.config.prefix_len == 2 and model.config.pooled_q_head
    with torch.no_grad():
        model.puzzle_emb.weight.normal_()
    batch = grid_batch(3, 5, 5)
    _, out0 = eval_step(model, {**batch, "puzzle_identifiers": torch.tensor([0, 0, 0])})
    carry, out1 = eval_step(model, {**batch, "puzzle_identifiers": torch.tensor([1, 2, 0])})
    assert carry.inner.z_H.shape == (3, 2 + 25, 16)
    assert out1["logits"].shape == (3, 25, 6)
    assert torch.equal(out0["logits"], out1["logits"])
    assert torch.equal(out0["q_halt_logits"], out1["q_halt_logits"])


# ------------------------------------------------------------------------ training and export
def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    model = TRM(conv_config()).train()
    with torch.no_grad():
        model.q_head.weight.normal_()
    batch = grid_batch(4, 5, 6)
    carry, out = model(model.initial_carry(batch), batch)
    act_loss(out, carry).loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_bfloat16_forward() -> None:
    model = TRM(conv_config(forward_dtype="bfloat16"))
    batch = grid_batch(2, 6, 5)
    carry, out = model(model.initial_carry(batch), batch)
    assert out["logits"].dtype == carry.inner.z_H.dtype == torch.bfloat16
    act_loss(out, carry).loss.backward()
    assert model.net.layers[0].conv.depthwise_weight.grad.dtype == torch.float32


def test_checkpoint_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    model = TRM(conv_config(puzzle_emb_len=1, puzzle_emb_ndim=16))
    with torch.no_grad():
        model.q_head.weight.normal_()
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "conv"))
    assert isinstance(loaded, TRM) and loaded.config == model.config
    for rows, cols in ((5, 5), (8, 3)):
        batch = grid_batch(2, rows, cols)
        (_, a), (_, b) = eval_step(model, batch), eval_step(loaded, batch)
        assert torch.equal(a["logits"], b["logits"])
        assert torch.equal(a["q_halt_logits"], b["q_halt_logits"])


@pytest.mark.slow
def test_compiled_network_matches_eager() -> None:
    torch.manual_seed(0)
    model = TRM(conv_config()).eval()
    batches = [grid_batch(2, 5, 5), grid_batch(2, 7, 4)]
    eager = [eval_step(model, batch)[1] for batch in batches]
    model.compile_network()
    for batch, ref in zip(batches, eager, strict=True):
        out = eval_step(model, batch)[1]
        torch.testing.assert_close(out["logits"], ref["logits"], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(out["q_halt_logits"], ref["q_halt_logits"])


def test_presets() -> None:
    for name, side, vocab in (("cpu-maze-conv", 11, 6), ("cpu-sudoku-conv", 9, 11)):
        cfg = TRMConfig.preset(name)
        assert (cfg.mixer, cfg.grid_width, cfg.seq_len) == ("conv", side, side * side)
        assert cfg.vocab_size == vocab and cfg.prefix_len == 0 and cfg.swiglu_multiple == 1
        with torch.device("meta"):
            assert TRM(cfg).num_parameters() < 80_000


# ---------------------------------------------------------------------------- refused input
@pytest.mark.parametrize(
    ("changes", "phrase"),
    [
        ({"grid_width": None}, "the conv mixer needs grid_width"),
        ({"pos_encodings": "rope"}, "the conv mixer takes no position encodings"),
        ({"pos_encodings": "learned"}, "ties the model to one grid size"),
        ({"grid_width": 4}, "seq_len (25) must be divisible by grid_width (4)"),
        ({"grid_width": 0}, "TRMConfig.grid_width must be >= 1, got 0"),
        ({"grid_width": 5.0}, "TRMConfig.grid_width must be an int or None"),
    ],
)
def test_invalid_configs_are_refused(changes: dict, phrase: str) -> None:
    with pytest.raises(ValueError, match="TRMConfig") as info:
        conv_config(**changes)
    assert phrase in str(info.value)


def test_official_export_is_refused() -> None:
    with pytest.raises(ValueError, match="the official TRM has no equivalent of") as info:
        conv_config(swiglu_multiple=256).to_official()
    assert str(info.value).endswith("""["mixer='conv'"]""")
    with pytest.raises(ValueError, match=r"prefix_len=0 \(our Q head then reads the mean"):
        conv_config(mixer="attention", swiglu_multiple=256).to_official()


@pytest.mark.parametrize(
    ("batch", "phrase"),
    [
        ({"inputs": torch.ones(2, 24, dtype=torch.long)}, "or a grid of any size as [B, H, W]"),
        ({"inputs": torch.ones(2, 0, 4, dtype=torch.long)}, "grids without cells"),
        ({"inputs": torch.ones(2, 3, 4, 5, dtype=torch.long)}, "got [2, 3, 4, 5]"),
        (
            {"inputs": torch.ones(2, 3, 4, dtype=torch.long), "labels": torch.ones(2, 4, 3)},
            "labels must hold integer ids",
        ),
        (
            {
                "inputs": torch.ones(2, 3, 4, dtype=torch.long),
                "labels": torch.ones(2, 13, dtype=torch.long),
            },
            "labels must have shape [2, 3, 4] or [2, 12]",
        ),
        (
            {
                "inputs": torch.ones(2, 3, 4, dtype=torch.long),
                "labels": torch.ones(2, 4, 3, dtype=torch.long),
            },
            "got [2, 4, 3]",
        ),
    ],
)
def test_malformed_grids_are_refused(batch: dict, phrase: str) -> None:
    model = TRM(conv_config())
    with pytest.raises(ValueError) as info:
        model.initial_carry(batch)
    assert phrase in str(info.value)


def test_other_mixers_keep_the_flat_rule() -> None:
    model = TRM(conv_config(mixer="attention", pos_encodings="rope"))
    with pytest.raises(ValueError, match=r"got \[2, 5, 5\]; flatten each grid to 25 tokens"):
        model.initial_carry({"inputs": torch.ones(2, 5, 5, dtype=torch.long)})
