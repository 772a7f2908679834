"""One-shot predictors behind the interface of :class:`trm_rl.model.TRM`.

A baseline that answers in one forward pass (no recursion, no carried latent) still has to be
trained, evaluated and saved by the code that handles the TRM. :class:`OneShotModel` gives it
the same surface: ``config``, ``check_batch``, ``initial_carry``, ``forward(carry, batch)``,
``solve``, ``num_parameters``, ``compile_network``, ``dtype`` and ``puzzle_emb`` (None). The
ACT semantics degenerate cleanly:

* every call of :meth:`OneShotModel.forward` is one complete prediction for every row, and
  every row halts after it (``steps == 1``, ``halted`` all True), so the next call takes the
  next batch in full;
* the carry carries no latent (``z_H``/``z_L`` are empty ``[B, 0, 0]`` tensors);
* a small Q head (weight 0, bias -5 as in the TRM) predicts whether the answer is exactly right,
  so :func:`trm_rl.model.losses.act_loss` trains it unchanged (its BCE term) and the halting
  metrics are defined.

Subclasses implement :meth:`OneShotModel.predict`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import nullcontext
from typing import Any

import torch
from torch import nn

from envs.utils import check_bool, check_int
from trm_rl.model.batch import Batch, check_batch, grid_shape
from trm_rl.model.trm import InnerCarry, SolveResult, TRMCarry


class OneShotModel(nn.Module):
    """Base of the one-shot baselines: the TRM interface around :meth:`predict`.

    :param config: the subclass's config (``vocab_size``, ``seq_len``, ``grid_width``,
        ``any_grid_size``, ``halt_max_steps`` = 1, ``torch_dtype``).
    :param feature_dim: width of the pooled features the Q head reads.
    """

    puzzle_emb = None  # no puzzle table: ``puzzle_identifiers`` are accepted and ignored

    def __init__(self, config: Any, feature_dim: int) -> None:
        super().__init__()
        self.config = config
        self.q_head = nn.Linear(feature_dim, 2)  # (halt, continue) logits, as the TRM's
        with torch.no_grad():
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)
        self._compiled_predict: Callable | None = None

    # ------------------------------------------------------------------------------ the network
    def predict(
        self, inputs: torch.Tensor, grid: tuple[int, int] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The prediction itself.

        :param inputs: checked token ids ``[B, S]`` or ``[B, H, W]``.
        :param grid: ``(rows, cols)`` of the grid, or None when the config has no grid width.
        :return: ``(logits [B, cells, V], features [B, feature_dim])``.
        """
        raise NotImplementedError

    @property
    def dtype(self) -> torch.dtype:
        """Activation dtype (``config.forward_dtype``; parameters stay float32)."""
        return self.config.torch_dtype

    def compile_network(self, **compile_kwargs) -> OneShotModel:
        """Run :meth:`predict` through ``torch.compile`` (the state dict is unchanged).

        :param compile_kwargs: passed to ``torch.compile``.
        :return: ``self``.
        """
        self._compiled_predict = torch.compile(type(self).predict, **compile_kwargs)
        return self

    def check_batch(self, batch: Mapping[str, Any]) -> int:
        """Check a batch where it enters (see :func:`trm_rl.model.batch.check_batch`).

        :raises ValueError: naming the entry, what it holds and what is expected.
        :return: the batch size ``B``.
        """
        return check_batch(batch, self.config, self.q_head.weight.device, puzzle_table=False)

    def step(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One prediction: ``(logits [B, cells, V], q_halt [B], q_continue [B])``, the Q logits
        in float32."""
        grid = grid_shape(inputs, self.config)
        run = self._compiled_predict or type(self).predict
        autocast = (
            torch.autocast(inputs.device.type, dtype=self.dtype)
            if self.dtype != torch.float32
            else nullcontext()
        )
        with autocast:
            logits, features = run(self, inputs, grid)
            q = self.q_head(features).float()
        return logits, q[:, 0], q[:, 1]

    # ------------------------------------------------------------------------------------ ACT
    def _carry(self, data: Batch, size: int, steps: int) -> TRMCarry:
        """A carry of halted rows after ``steps`` steps, without a latent, holding ``data``."""
        device = data["inputs"].device
        empty = torch.zeros(size, 0, 0, dtype=self.dtype, device=device)
        return TRMCarry(
            inner=InnerCarry(z_H=empty, z_L=empty),
            steps=torch.full((size,), steps, dtype=torch.int32, device=device),
            halted=torch.ones(size, dtype=torch.bool, device=device),
            current_data=data,
        )

    def initial_carry(self, batch: Batch) -> TRMCarry:
        """A carry with every row halted and no latent (``z_H``/``z_L`` are ``[B, 0, 0]``).

        :param batch: a batch (checked; its values are not used).
        :raises ValueError: for a malformed batch.
        """
        size = self.check_batch(batch)
        return self._carry({k: torch.zeros_like(v) for k, v in batch.items()}, size, steps=0)

    def forward(self, carry: TRMCarry, batch: Batch) -> tuple[TRMCarry, dict[str, torch.Tensor]]:
        """One complete prediction of every row; every row halts after it.

        :param carry: from :meth:`initial_carry` or the previous call (it carries nothing: every
            row halted, so the whole batch is taken; grids may change size between calls).
        :param batch: ``{"inputs": [B, S] (or [B, H, W]), "labels": ..., ...}``.
        :return: ``(carry, outputs)``: the carry has ``steps == 1``, ``halted`` all True and
            ``current_data`` = the batch; ``outputs`` has ``logits`` [B, cells, V],
            ``q_halt_logits`` [B] and ``q_continue_logits`` [B].
        :raises ValueError: for a malformed batch or a carry that is not a TRMCarry.
        """
        if not isinstance(carry, TRMCarry):
            raise ValueError(
                f"carry must be a TRMCarry from model.initial_carry(batch) or the previous call, "
                f"got {type(carry).__name__}"
            )
        size = self.check_batch(batch)
        logits, q_halt, q_continue = self.step(batch["inputs"])
        outputs = {"logits": logits, "q_halt_logits": q_halt, "q_continue_logits": q_continue}
        return self._carry(dict(batch), size, steps=1), outputs

    # ------------------------------------------------------------------------------ inference
    @torch.no_grad()
    def solve(
        self,
        inputs: torch.Tensor,
        max_steps: int | None = None,
        halt: bool = True,
        puzzle_identifiers: torch.Tensor | None = None,
    ) -> SolveResult:
        """Answer a batch of puzzles (the same signature and result as :meth:`TRM.solve`).

        Every row answers in one step (``steps`` all 1). The trajectory has one entry with
        ``halt=True``, and ``max_steps`` copies of the (frozen) answer with ``halt=False``, so it
        has the shape a TRM's trajectory has in both regimes.

        :param inputs: token ids ``[B, seq_len]`` (the conv net: or ``[B, H, W]``).
        :param max_steps: length of the trajectory without halting (default 1).
        :param halt: stop after the first step (a one-shot model always can).
        :param puzzle_identifiers: accepted and ignored (no puzzle table).
        :raises ValueError: for malformed inputs, ``max_steps`` that is not an int >= 1, or
            ``halt`` that is not a bool.
        """
        max_steps = check_int("max_steps", max_steps, low=1, allow_none=True)
        max_steps = self.config.halt_max_steps if max_steps is None else max_steps
        halt = check_bool("halt", halt)
        data: Batch = {"inputs": inputs}
        if puzzle_identifiers is not None:
            data["puzzle_identifiers"] = puzzle_identifiers
        size = self.check_batch(data)
        logits, q_halt, _ = self.step(inputs)
        predictions = logits.argmax(-1)
        halt_probs = torch.sigmoid(q_halt)
        length = 1 if halt else max_steps
        return SolveResult(
            predictions=predictions,
            steps=torch.ones(size, dtype=torch.int32, device=inputs.device),
            halt_probs=halt_probs,
            trajectory_predictions=predictions.expand(length, *predictions.shape).clone(),
            trajectory_halt_probs=halt_probs.expand(length, size).clone(),
        )

    def num_parameters(self) -> int:
        """``sum(p.numel() for p in self.parameters())``."""
        return sum(p.numel() for p in self.parameters())


__all__ = ["OneShotModel"]
