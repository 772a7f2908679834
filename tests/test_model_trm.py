"""TRM: shapes, the gradient structure of the recursion, the ACT carry and halting, solve."""

from __future__ import annotations

import copy

import pytest
import torch
from conftest import make_batch, tiny_config

from trm_rl.model import TRM, TRMConfig
from trm_rl.model.losses import act_loss
from trm_rl.model.trm import InnerCarry

tiny = tiny_config


def model_with_q_bias(cfg: TRMConfig, halt_bias: float, seed: int = 0) -> TRM:
    torch.manual_seed(seed)
    model = TRM(cfg)
    with torch.no_grad():
        model.q_head.bias.fill_(halt_bias)
    return model


# -------------------------------------------------------------------------------------- shapes
@pytest.mark.parametrize(
    "mixer,pos", [("attention", "rope"), ("mlp", "none"), ("attention", "learned")]
)
def test_shapes_and_dtypes(mixer: str, pos: str) -> None:
    cfg = tiny(mixer=mixer, pos_encodings=pos)
    model = TRM(cfg)
    batch = make_batch(cfg, size=5)
    carry, out = model(model.initial_carry(batch), batch)
    assert out["logits"].shape == (5, cfg.seq_len, cfg.vocab_size)
    assert out["q_halt_logits"].shape == out["q_continue_logits"].shape == (5,)
    assert out["q_halt_logits"].dtype == torch.float32
    assert carry.inner.z_H.shape == carry.inner.z_L.shape == (5, cfg.total_len, cfg.hidden_size)
    assert carry.steps.dtype == torch.int32 and carry.steps.tolist() == [1] * 5
    torch.testing.assert_close(out["q_halt_logits"], torch.full((5,), -5.0))  # q_head init


def test_bfloat16_forward_keeps_float32_parameters() -> None:
    cfg = tiny(forward_dtype="bfloat16")
    model = TRM(cfg)
    batch = make_batch(cfg)
    carry, out = model(model.initial_carry(batch), batch)
    assert out["logits"].dtype == torch.bfloat16 and carry.inner.z_H.dtype == torch.bfloat16
    assert out["q_halt_logits"].dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in model.parameters())
    act_loss(out, carry).loss.backward()
    assert model.lm_head.weight.grad.dtype == torch.float32


def test_input_embedding_prefix_and_scale() -> None:
    cfg = tiny(puzzle_emb_len=3, puzzle_emb_ndim=40)  # 40 < 3 * 32: zero-padded
    model = TRM(cfg)
    with torch.no_grad():
        model.puzzle_emb.weight.normal_()
    batch = make_batch(cfg)
    x = model.input_embeddings(batch["inputs"], batch["puzzle_identifiers"])
    scale = cfg.hidden_size**0.5
    rows = model.puzzle_emb.weight[batch["puzzle_identifiers"]]
    torch.testing.assert_close(x[:, 0], scale * rows[:, :32])
    torch.testing.assert_close(x[:, 1, :8], scale * rows[:, 32:])
    assert torch.count_nonzero(x[:, 1, 8:]) == 0 and torch.count_nonzero(x[:, 2]) == 0
    torch.testing.assert_close(x[:, 3:], scale * model.embed_tokens.weight[batch["inputs"]])
    learned = TRM(tiny(pos_encodings="learned"))
    y = learned.input_embeddings(batch["inputs"])
    ref = (
        (0.5**0.5)
        * scale
        * (learned.embed_tokens.weight[batch["inputs"]] + learned.embed_pos.weight[2:])
    )
    torch.testing.assert_close(y[:, 2:], ref)


# --------------------------------------------------------------------- gradients in the recursion
def _count_grad_calls(model: TRM, batch: dict) -> tuple[int, int]:
    calls: list[bool] = []
    nets = [model.net] + ([model.net_H] if model.net_H is not None else [])
    handles = [
        n.register_forward_hook(lambda *_: calls.append(torch.is_grad_enabled())) for n in nets
    ]
    model(model.initial_carry(batch), batch)
    for h in handles:
        h.remove()
    return sum(calls), len(calls) - sum(calls)


@pytest.mark.parametrize("changes", [{}, {"separate_networks": True}, {"single_z": True}])
def test_only_the_last_round_runs_with_gradients(changes: dict) -> None:
    cfg = tiny(**changes)
    with_grad, without = _count_grad_calls(TRM(cfg), make_batch(cfg))
    n, T = cfg.L_cycles, cfg.H_cycles
    assert (with_grad, without) == (n + 1, (T - 1) * (n + 1))


def test_full_backprop_runs_every_round_with_gradients() -> None:
    cfg = tiny(full_backprop=True)
    assert _count_grad_calls(TRM(cfg), make_batch(cfg)) == (cfg.net_calls_per_step, 0)


def test_gradients_equal_a_last_round_only_computation() -> None:
    cfg = tiny()
    model = TRM(cfg)
    batch = make_batch(cfg)
    _, out = model(model.initial_carry(batch), batch)
    out["logits"].float().square().sum().backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}

    model.zero_grad()
    inner = model.reset_carry(torch.ones(4, dtype=torch.bool), model.initial_carry(batch).inner)
    x = model.input_embeddings(batch["inputs"], batch["puzzle_identifiers"])
    with torch.no_grad():
        z_H, z_L = inner.z_H, inner.z_L
        for _ in range(cfg.H_cycles - 1):
            z_H, z_L = model.latent_recursion(z_H, z_L, x)
    z_H, _ = model.latent_recursion(z_H.clone(), z_L.clone(), x)
    model.lm_head(z_H)[:, cfg.prefix_len :].float().square().sum().backward()
    for k, p in model.named_parameters():
        if k in grads:
            torch.testing.assert_close(p.grad, grads[k], msg=k)


@pytest.mark.parametrize("full_backprop", [False, True])
def test_no_gradient_reaches_the_incoming_carry(full_backprop: bool) -> None:
    cfg = tiny(full_backprop=full_backprop)
    model = TRM(cfg)
    batch = make_batch(cfg)
    z_H = torch.randn(4, cfg.total_len, cfg.hidden_size, requires_grad=True)
    z_L = torch.randn(4, cfg.total_len, cfg.hidden_size, requires_grad=True)
    new, logits, q_halt, _ = model.step(InnerCarry(z_H, z_L), batch)
    (logits.sum() + q_halt.sum()).backward()
    if full_backprop:
        assert z_H.grad is not None
    else:
        assert z_H.grad is None and z_L.grad is None
    assert not new.z_H.requires_grad and new.z_H.grad_fn is None
    assert not new.z_L.requires_grad and new.z_L.grad_fn is None


def test_carry_is_detached_and_puzzle_embedding_gets_a_sparse_gradient() -> None:
    cfg = tiny()
    model = TRM(cfg)
    batch = make_batch(cfg)
    batch["puzzle_identifiers"] = torch.tensor([0, 2, 2, 0])
    carry, out = model(model.initial_carry(batch), batch)
    assert carry.inner.z_H.grad_fn is None and carry.inner.z_L.grad_fn is None
    act_loss(out, carry).loss.backward()
    ids, grad = model.puzzle_emb.sparse_grad()
    assert ids.tolist() == [0, 2] and grad.shape == (2, cfg.puzzle_emb_dim)
    local = model.puzzle_emb.local_weight.grad
    torch.testing.assert_close(grad[1], local[1] + local[2])
    before = model.puzzle_emb.weight.clone()
    model.puzzle_emb.sign_sgd_step(lr=0.1, weight_decay=0.0)
    torch.testing.assert_close(model.puzzle_emb.weight[ids], before[ids] - 0.1 * grad.sign())
    torch.testing.assert_close(model.puzzle_emb.weight[1], before[1])


# ------------------------------------------------------------------------------------- halting
def test_never_halting_rows_keep_their_example_until_the_cap() -> None:
    cfg = tiny(halt_max_steps=3)
    model = model_with_q_bias(cfg, -5.0).train()
    first, second = make_batch(cfg, seed=1), make_batch(cfg, seed=2)
    carry = model.initial_carry(first)
    assert carry.halted.all()
    for step in range(1, 4):
        carry, _ = model(carry, first if step == 1 else second)
        assert torch.equal(carry.current_data["inputs"], first["inputs"])
        assert carry.steps.tolist() == [step] * 4
        assert carry.halted.all() == (step == 3)
    carry, out = model(carry, second)  # everybody restarts on the new batch
    assert (
        torch.equal(carry.current_data["inputs"], second["inputs"])
        and carry.steps.tolist() == [1] * 4
    )
    _, fresh = model(model.initial_carry(second), second)
    torch.testing.assert_close(out["logits"], fresh["logits"])  # latents were reset


def test_halted_rows_reset_and_take_new_data_others_continue() -> None:
    cfg = tiny()
    model = model_with_q_bias(cfg, -5.0).train()
    first, second = make_batch(cfg, seed=1), make_batch(cfg, seed=2)
    carry, _ = model(model.initial_carry(first), first)
    carry.halted = torch.tensor([True, False, True, False])
    old_inner = copy.deepcopy(carry.inner)
    carry, out = model(carry, second)
    assert carry.steps.tolist() == [1, 2, 1, 2]
    expected = torch.where(
        torch.tensor([True, False, True, False]).view(-1, 1), second["inputs"], first["inputs"]
    )
    assert torch.equal(carry.current_data["inputs"], expected)
    assert torch.equal(carry.current_data["labels"][1], first["labels"][1])
    _, fresh = model(model.initial_carry(second), second)
    torch.testing.assert_close(out["logits"][[0, 2]], fresh["logits"][[0, 2]])
    _, cont, _, _ = model.step(old_inner, first)
    torch.testing.assert_close(out["logits"][[1, 3]], cont[[1, 3]])


def test_training_halts_on_q_halt_and_eval_never_halts_early() -> None:
    cfg = tiny()
    model = model_with_q_bias(cfg, 5.0)  # q_halt = +5 > 0 everywhere
    batch = make_batch(cfg)
    carry, _ = model.train()(model.initial_carry(batch), batch)
    assert carry.halted.all()
    model.eval()
    carry = model.initial_carry(batch)
    for step in range(1, cfg.halt_max_steps + 1):
        carry, _ = model(carry, batch)
        assert carry.halted.all() == (step == cfg.halt_max_steps)


def test_act_off_and_single_step_cap() -> None:
    cfg = tiny(act=False)
    model = model_with_q_bias(cfg, 5.0).train()
    batch = make_batch(cfg)
    carry, _ = model(model.initial_carry(batch), batch)
    assert not carry.halted.any()  # no Q-based halting without ACT
    cfg1 = tiny(halt_max_steps=1)
    model1 = model_with_q_bias(cfg1, -5.0).train()
    carry, _ = model1(model1.initial_carry(batch), batch)
    assert carry.halted.all()


def test_q_continue_mode_halts_on_comparison() -> None:
    cfg = tiny(q_continue=True)
    model = TRM(cfg).train()
    with torch.no_grad():
        model.q_head.bias.copy_(torch.tensor([1.0, 2.0]))  # q_halt < q_continue: keep going
    batch = make_batch(cfg)
    carry, _ = model(model.initial_carry(batch), batch)
    assert not carry.halted.any()
    with torch.no_grad():
        model.q_head.bias.copy_(torch.tensor([-1.0, -2.0]))  # q_halt > q_continue, both < 0
    carry, _ = model(carry, batch)
    assert carry.halted.all()


def test_exploration_enforces_a_minimum_number_of_steps() -> None:
    cfg = tiny(halt_exploration_prob=1.0, halt_max_steps=6)
    model = model_with_q_bias(cfg, 5.0).train()  # would halt at once without exploration
    batch = make_batch(cfg, size=64)
    torch.manual_seed(0)
    carry, _ = model(model.initial_carry(batch), batch)
    assert not carry.halted.any()  # min steps >= 2
    halted_at = torch.zeros(64, dtype=torch.int32)
    for _ in range(5):
        carry, _ = model(carry, batch)
        halted_at = torch.where((halted_at == 0) & carry.halted, carry.steps, halted_at)
        carry.halted = carry.halted & (halted_at == 0)  # freeze halted rows for counting
        if (halted_at > 0).all():
            break
    assert halted_at.min() >= 2 and halted_at.max() <= 6 and len(halted_at.unique()) > 1

    half = model_with_q_bias(tiny(halt_exploration_prob=0.5), 5.0).train()
    torch.manual_seed(1)
    big = make_batch(cfg, size=400)
    carry, _ = half(half.initial_carry(big), big)
    assert 0.35 < carry.halted.float().mean().item() < 0.65


def test_q_continue_target_and_training() -> None:
    cfg = tiny(q_continue=True, halt_max_steps=2)
    torch.manual_seed(0)
    model = TRM(cfg).train()
    with torch.no_grad():
        model.q_head.weight.normal_(std=0.3)
    batch = make_batch(cfg)
    carry, out = model(model.initial_carry(batch), batch)
    _, _, nh, nc = model.step(carry.inner, carry.current_data)
    torch.testing.assert_close(out["target_q_continue"], torch.sigmoid(torch.maximum(nh, nc)))
    carry.halted = torch.zeros(4, dtype=torch.bool)  # force step 2 (the cap) for every row
    carry, out = model(carry, batch)
    _, _, nh, _ = model.step(carry.inner, carry.current_data)
    torch.testing.assert_close(out["target_q_continue"], torch.sigmoid(nh))

    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    carry = model.initial_carry(batch)
    for _ in range(3):
        carry, out = model(carry, batch)
        res = act_loss(out, carry)
        assert res.q_continue_loss > 0
        optim.zero_grad()
        res.loss.backward()
        assert model.q_head.bias.grad[1] != 0
        optim.step()
    model.eval()
    _, out = model(model.initial_carry(batch), batch)
    assert "target_q_continue" not in out


# ----------------------------------------------------------------------------------- ablations
@pytest.mark.parametrize(
    "changes",
    [
        {"separate_networks": True},
        {"single_z": True},
        {"full_backprop": True},
        {"mlp_type": "relu"},
        {"mlp_type": "relu", "mixer": "mlp", "pos_encodings": "none"},
        {"act": False},
        {"q_continue": True},
        {"puzzle_emb_ndim": 0},
        {"puzzle_emb_ndim": 0, "puzzle_emb_len": 0},
        {"H_cycles": 1},
    ],
)
def test_every_ablation_builds_and_trains_one_step(changes: dict) -> None:
    cfg = tiny(**changes)
    model = TRM(cfg).train()
    batch = make_batch(cfg)
    optim = torch.optim.AdamW(model.parameters(), lr=1e-3)
    carry = model.initial_carry(batch)
    for _ in range(2):
        carry, out = model(carry, batch)
        loss = act_loss(out, carry, halt_loss=cfg.act).loss
        optim.zero_grad()
        loss.backward()
        optim.step()
        assert torch.isfinite(loss)
    assert model.lm_head.weight.grad is not None


def test_separate_networks_doubles_the_network() -> None:
    base, sep = TRM(tiny()), TRM(tiny(separate_networks=True))
    net = sum(p.numel() for p in base.net.parameters())
    assert sep.num_parameters() == base.num_parameters() + net


def test_determinism_under_a_seed() -> None:
    cfg = tiny(halt_exploration_prob=0.5)
    results = []
    for _ in range(2):
        torch.manual_seed(123)
        model = TRM(cfg).train()
        with torch.no_grad():
            model.q_head.bias.fill_(0.1)
        batch = make_batch(cfg)
        carry = model.initial_carry(batch)
        for _ in range(3):
            carry, out = model(carry, batch)
        results.append((out["logits"], carry.halted, carry.steps, model.L_init))
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)


# ---------------------------------------------------------------------------------------- solve
def test_solve_without_halting_matches_eval_forward() -> None:
    cfg = tiny()
    model = TRM(cfg).eval()
    batch = make_batch(cfg)
    res = model.solve(batch["inputs"], halt=False, puzzle_identifiers=batch["puzzle_identifiers"])
    assert res.steps.tolist() == [cfg.halt_max_steps] * 4
    assert res.trajectory_predictions.shape == (cfg.halt_max_steps, 4, cfg.seq_len)
    assert res.trajectory_halt_probs.shape == (cfg.halt_max_steps, 4)
    carry = model.initial_carry(batch)
    with torch.no_grad():
        for step in range(cfg.halt_max_steps):
            carry, out = model(carry, batch)
            assert torch.equal(res.trajectory_predictions[step], out["logits"].argmax(-1))
    assert torch.equal(res.predictions, out["logits"].argmax(-1))
    longer = model.solve(batch["inputs"], max_steps=cfg.halt_max_steps + 3, halt=False)
    assert longer.steps.tolist() == [cfg.halt_max_steps + 3] * 4


def test_solve_with_halting_stops_rows_early() -> None:
    cfg = tiny(halt_max_steps=6)
    torch.manual_seed(0)
    model = TRM(cfg)
    assert model.solve(make_batch(cfg)["inputs"]).steps.tolist() == [6] * 4  # q_halt = -5
    with torch.no_grad():
        model.q_head.weight.normal_(std=1.0)
        model.q_head.bias.zero_()
    inputs = make_batch(cfg, size=16)["inputs"]
    res = model.solve(inputs, halt=True)
    probs = res.trajectory_halt_probs  # [S, B]
    for row in range(16):
        stop = int(res.steps[row])
        assert 1 <= stop <= 6
        if stop < 6:
            assert probs[stop - 1, row] > 0.5
        assert (probs[: stop - 1, row] <= 0.5).all()
        # Frozen after stopping.
        assert torch.equal(res.trajectory_predictions[-1, row], res.predictions[row])
        assert torch.equal(res.trajectory_predictions[stop - 1, row], res.predictions[row])
    assert len(res.steps.unique()) > 1
    with torch.no_grad():
        model.q_head.bias.fill_(5.0)
        model.q_head.weight.zero_()
    once = model.solve(inputs)
    assert once.steps.tolist() == [1] * 16 and once.trajectory_predictions.shape[0] == 1


@pytest.mark.slow
def test_compiled_network_matches_eager() -> None:
    cfg = tiny()
    torch.manual_seed(0)
    model = TRM(cfg)
    batch = make_batch(cfg)
    _, eager = model(model.initial_carry(batch), batch)
    model.compile_network()
    _, compiled = model(model.initial_carry(batch), batch)
    torch.testing.assert_close(compiled["logits"], eager["logits"], rtol=1e-4, atol=1e-4)
    assert list(model.state_dict()) == list(TRM(cfg).state_dict())
