"""Stablemax / softmax cross-entropy and the ACT loss with its metrics."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

from trm_rl.model.losses import (
    IGNORE_LABEL_ID,
    act_loss,
    log_stablemax,
    softmax_cross_entropy,
    stablemax_cross_entropy,
)
from trm_rl.model.trm import InnerCarry, TRMCarry


def _reference_stablemax_ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """TRM.md formula, literally, in float64."""
    x = logits.double()
    s = torch.where(x < 0, 1 / (1 - x), x + 1)
    logp = torch.log(s / s.sum(-1, keepdim=True))
    valid = labels != IGNORE_LABEL_ID
    picked = logp.gather(-1, torch.where(valid, labels, 0).unsqueeze(-1)).squeeze(-1)
    return torch.where(valid, -picked, 0.0)


def test_stablemax_formula_by_hand() -> None:
    logits = torch.tensor([[-1.0, 0.0, 2.0]])
    # s = [1/2, 1, 3], sum 4.5
    expected = -torch.log(torch.tensor([3 / 4.5]))
    torch.testing.assert_close(stablemax_cross_entropy(logits, torch.tensor([2])), expected)
    torch.testing.assert_close(
        log_stablemax(logits.double()).exp().sum(-1), torch.ones(1, dtype=torch.float64)
    )


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    scale=st.sampled_from([0.1, 1.0, 10.0, 300.0]),
    vocab=st.integers(2, 12),
)
def test_float32_stablemax_equals_float64_reference(seed: int, scale: float, vocab: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(4, 9, vocab, generator=gen) * scale
    labels = torch.randint(0, vocab, (4, 9), generator=gen)
    labels[0, :3] = IGNORE_LABEL_ID
    # Make some predictions confident and correct (tiny losses are where float32 could fail).
    logits[1].scatter_(-1, labels[1].unsqueeze(-1), 1e4)
    ref = _reference_stablemax_ce(logits, labels)
    ours = stablemax_cross_entropy(logits, labels)
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours.double(), ref, rtol=2e-6, atol=1e-12)
    torch.testing.assert_close(
        stablemax_cross_entropy(logits, labels, precision="float64"), ref, rtol=1e-12, atol=0
    )


def test_stablemax_gradients_match_float64() -> None:
    torch.manual_seed(0)
    logits = (torch.randn(6, 5, 7) * 3).requires_grad_()
    labels = torch.randint(0, 7, (6, 5))
    stablemax_cross_entropy(logits, labels).sum().backward()
    ref_logits = logits.detach().double().requires_grad_()
    _reference_stablemax_ce(ref_logits, labels).sum().backward()
    torch.testing.assert_close(logits.grad.double(), ref_logits.grad, rtol=1e-5, atol=1e-7)
    assert torch.isfinite(logits.grad).all()


def test_softmax_cross_entropy() -> None:
    logits = torch.randn(2, 3, 4)
    labels = torch.tensor([[0, 1, IGNORE_LABEL_ID], [3, 2, 1]])
    loss = softmax_cross_entropy(logits, labels)
    assert loss[0, 2] == 0
    torch.testing.assert_close(loss[1, 0], F.cross_entropy(logits[1, 0:1], labels[1, 0:1]))


def _carry(labels: torch.Tensor, halted: list[bool], steps: list[int]) -> TRMCarry:
    z = torch.zeros(labels.shape[0], 1, 1)
    return TRMCarry(
        inner=InnerCarry(z, z),
        steps=torch.tensor(steps, dtype=torch.int32),
        halted=torch.tensor(halted),
        current_data={"labels": labels},
    )


def test_act_loss_and_metrics() -> None:
    labels = torch.tensor(
        [[1, 2, 3], [1, 2, IGNORE_LABEL_ID], [3, 3, 3], [IGNORE_LABEL_ID] * 3]
    )  # row 3 has no valid label
    logits = torch.full((4, 3, 5), -2.0)
    logits[0].scatter_(-1, labels[0].unsqueeze(-1), 3.0)  # row 0 fully correct
    logits[1, 0, 1] = 3.0  # row 1: one of two valid tokens correct
    logits[2, :, 0] = 3.0  # row 2: all wrong
    q_halt = torch.tensor([1.0, 2.0, -1.0, 0.5])
    outputs = {"logits": logits, "q_halt_logits": q_halt, "q_continue_logits": torch.zeros(4)}
    carry = _carry(labels, halted=[True, True, False, True], steps=[3, 5, 2, 7])
    out = act_loss(outputs, carry)

    token = stablemax_cross_entropy(logits, labels)
    counts = torch.tensor([3.0, 2.0, 3.0, 1.0]).unsqueeze(-1)
    torch.testing.assert_close(out.lm_loss, (token / counts).sum())
    seq_correct = torch.tensor([1.0, 0.0, 0.0, 1.0])  # a row without labels counts as correct
    q_ref = F.binary_cross_entropy_with_logits(q_halt, seq_correct, reduction="sum")
    torch.testing.assert_close(out.q_halt_loss, q_ref)
    torch.testing.assert_close(out.loss, out.lm_loss + 0.5 * q_ref)
    m = out.metrics  # halted rows with labels: 0 and 1
    assert m["count"] == 2
    torch.testing.assert_close(m["accuracy"], torch.tensor(1.0 + 0.5))
    assert m["exact_accuracy"] == 1
    assert m["q_halt_accuracy"] == 1  # row 0: q>=0 and correct; row 1: q>=0 but wrong
    assert m["steps"] == 8
    assert out.predictions.shape == (4, 3)

    no_halt = act_loss(outputs, carry, halt_loss=False)
    torch.testing.assert_close(no_halt.loss, out.lm_loss)
    softmax = act_loss(outputs, carry, loss_type="softmax")
    assert softmax.lm_loss != out.lm_loss
    with pytest.raises(ValueError, match="unknown loss_type"):
        act_loss(outputs, carry, loss_type="hinge")


def test_act_loss_q_continue_term() -> None:
    labels = torch.tensor([[1, 2]])
    outputs = {
        "logits": torch.zeros(1, 2, 3),
        "q_halt_logits": torch.tensor([0.0]),
        "q_continue_logits": torch.tensor([1.0]),
        "target_q_continue": torch.tensor([0.25]),
    }
    out = act_loss(outputs, _carry(labels, [False], [1]))
    ref = F.binary_cross_entropy_with_logits(
        torch.tensor([1.0]), torch.tensor([0.25]), reduction="sum"
    )
    torch.testing.assert_close(out.q_continue_loss, ref)
    torch.testing.assert_close(out.loss, out.lm_loss + 0.5 * (out.q_halt_loss + ref))
