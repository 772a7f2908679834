"""Token losses (stablemax and softmax cross-entropy) and the ACT deep-supervision loss.

Stablemax ("Grokking at the edge of numerical stability") replaces ``exp`` by
``s(x) = 1/(1-x)`` for ``x < 0`` and ``x + 1`` for ``x >= 0``; ``p_i = s(x_i) / sum_j s(x_j)``.
The official code evaluates ``log(s_y / sum_j s_j)`` in float64. We compute the same quantity as
``log1p(sum_{j != y} s_j / s_y)`` in float32: a sum of positive terms, one division and a
``log1p`` have a small *relative* error for any loss value (the tests check it against the
float64 formula), at a fraction of the cost. ``precision="float64"`` reproduces the official
computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from envs.utils import check_bool, check_choice
from trm_rl.model.batch import IGNORE_LABEL_ID
from trm_rl.model.trm import TRMCarry

LossType = Literal["stablemax", "softmax"]


def stablemax_s(x: torch.Tensor) -> torch.Tensor:
    """Elementwise ``s(x)``: ``1/(1-x)`` for ``x < 0``, ``x + 1`` otherwise (NaN-free grads)."""
    return torch.where(x < 0, 1.0 / (1.0 - x.clamp(max=0.0)), x.clamp(min=0.0) + 1.0)


def log_stablemax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``log(s(x) / sum(s(x)))`` along ``dim`` (the official formula; use float64 inputs to
    reproduce it exactly)."""
    s = stablemax_s(x)
    return torch.log(s / s.sum(dim=dim, keepdim=True))


def stablemax_cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    ignore_index: int = IGNORE_LABEL_ID,
    precision: Literal["float32", "float64"] = "float32",
) -> torch.Tensor:
    """Per-token ``-log p_label`` under stablemax; 0 where ``labels == ignore_index``.

    :param logits: ``[..., V]`` any float dtype.
    :param labels: ``[...]`` integer labels.
    :param ignore_index: label value to ignore.
    :param precision: "float32" (the log1p form, default) or "float64" (official formula).
    :return: ``[...]`` losses in ``precision``.
    """
    check_choice("precision", precision, ("float32", "float64"))
    valid = labels != ignore_index
    safe = torch.where(valid, labels, 0).long().unsqueeze(-1)  # [..., 1]
    if precision == "float64":
        logp = log_stablemax(logits.double()).gather(-1, safe).squeeze(-1)
        return torch.where(valid, -logp, 0.0)
    s = stablemax_s(logits.float())  # [..., V]
    s_label = s.gather(-1, safe).squeeze(-1)
    others = s.scatter(-1, safe, 0.0).sum(-1)  # sum over j != label
    return torch.where(valid, torch.log1p(others / s_label), 0.0)


def softmax_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_LABEL_ID
) -> torch.Tensor:
    """Per-token softmax cross-entropy in float32; 0 where ``labels == ignore_index``."""
    flat = logits.float().reshape(-1, logits.shape[-1])
    loss = F.cross_entropy(
        flat, labels.long().reshape(-1), ignore_index=ignore_index, reduction="none"
    )
    return loss.view(labels.shape)


@dataclass
class ACTLossOutput:
    """Result of :func:`act_loss`."""

    loss: torch.Tensor  # scalar: lm_loss + 0.5 * (q_halt_loss + q_continue_loss), summed over rows
    lm_loss: torch.Tensor  # scalar, sum over rows of the per-row mean token loss
    q_halt_loss: torch.Tensor  # scalar, BCE(q_halt, row exactly correct) summed over rows
    q_continue_loss: torch.Tensor  # scalar, 0 unless the model outputs target_q_continue
    metrics: dict[str, torch.Tensor]  # detached sums over halted rows (see act_loss)
    predictions: torch.Tensor  # [B, S] argmax tokens


def act_loss(
    outputs: dict[str, torch.Tensor],
    carry: TRMCarry,
    loss_type: LossType = "stablemax",
    precision: Literal["float32", "float64"] = "float32",
    halt_loss: bool = True,
) -> ACTLossOutput:
    """Deep-supervision loss of one supervision step (the official ``ACTLossHead``).

    Every row contributes its mean token loss at every step (halted or not). Labels come from
    ``carry.current_data["labels"]``: the example each slot actually worked on.

    Metrics are sums over rows that halted at this step and have at least one valid label
    (normalise by ``count``): ``count``, ``accuracy`` (per-row token accuracy), ``exact_accuracy``
    (fully correct rows), ``q_halt_accuracy`` (``(q_halt >= 0) == exactly correct``), ``steps``;
    plus the detached losses.

    :param outputs: from :meth:`TRM.forward` (or a baseline model's ``forward``).
    :param carry: the *new* carry returned with ``outputs``.
    :param loss_type: "stablemax" (official) or "softmax" cross-entropy.
    :param precision: stablemax precision ("float64" = the official computation).
    :param halt_loss: include the Q-halt BCE (pass ``model.config.act``: without ACT the
        Q head is unused).
    :return: :class:`ACTLossOutput`; back-propagate ``loss / batch_size`` as the official code.
    """
    if loss_type not in ("stablemax", "softmax"):
        raise ValueError(f"unknown loss_type {loss_type!r}; choose 'stablemax' or 'softmax'")
    check_choice("precision", precision, ("float32", "float64"))
    check_bool("halt_loss", halt_loss)
    if "labels" not in carry.current_data:
        raise ValueError(
            "act_loss needs labels, but the carry's batch has none "
            f"(keys: {sorted(carry.current_data)}); put the answers in batch['labels'] before "
            "model.initial_carry(batch) and model(carry, batch)"
        )
    labels = carry.current_data["labels"]  # [B, S], or a grid [B, H, W] (flattened like logits)
    labels = labels.reshape(labels.shape[0], -1)
    logits = outputs["logits"]  # [B, S, V]
    q_halt = outputs["q_halt_logits"]  # [B]
    with torch.no_grad():
        mask = labels != IGNORE_LABEL_ID
        counts = mask.sum(-1)  # [B]
        divisor = counts.clamp_min(1).unsqueeze(-1)  # [B, 1]
        predictions = logits.argmax(-1)
        correct = mask & (predictions == labels)
        seq_correct = correct.sum(-1) == counts  # [B]

    if loss_type == "stablemax":
        token_loss = stablemax_cross_entropy(logits, labels, precision=precision)
    else:
        token_loss = softmax_cross_entropy(logits, labels)
    lm_loss = (token_loss / divisor).sum()
    zero = lm_loss.new_zeros(())
    q_halt_loss = (
        F.binary_cross_entropy_with_logits(q_halt, seq_correct.to(q_halt.dtype), reduction="sum")
        if halt_loss
        else zero
    )
    q_continue_loss = zero
    if "target_q_continue" in outputs:
        q_continue_loss = F.binary_cross_entropy_with_logits(
            outputs["q_continue_logits"], outputs["target_q_continue"], reduction="sum"
        )
    total = lm_loss + 0.5 * (q_halt_loss + q_continue_loss)

    with torch.no_grad():
        counted = carry.halted & (counts > 0)
        metrics = {
            "count": counted.sum(),
            "accuracy": torch.where(counted, (correct.float() / divisor).sum(-1), 0.0).sum(),
            "exact_accuracy": (counted & seq_correct).sum(),
            "q_halt_accuracy": (counted & ((q_halt >= 0) == seq_correct)).sum(),
            "steps": torch.where(counted, carry.steps, 0).sum(),
            "lm_loss": lm_loss.detach(),
            "q_halt_loss": q_halt_loss.detach(),
            "q_continue_loss": q_continue_loss.detach(),
        }
    return ACTLossOutput(total, lm_loss, q_halt_loss, q_continue_loss, metrics, predictions)
