"""A deep thinking net with recall (Bansal et al. 2022, "End-to-end Algorithm Synthesis with
Recurrent Networks", arXiv 2202.05826): one weight-tied block of 3x3 convs applied again and
again to a latent feature map of the grid. The control for "does recursion help?": recurrent
like the TRM, local like the conv net, no attention, no second latent.

One call of :meth:`DTNetModel.forward` is one supervision step for every row of the batch::

    x = embed(tokens)                                   # [B, C, H, W], once per step
    z = x for a fresh row, else the carried latent      # the "initial thought" is the input
    repeat `iterations` times (weight-tied):
        z <- relu(conv_recall([z ; x]))                 # recall: the input at every iteration
        repeat block_layers times: z <- relu(z + conv(relu(conv(z))))
    logits = head(z) per cell;  q = q_head(mean of z over the cells)
    carry <- z.detach()

**Progressive training** (training mode with ``progressive``): the first ``n`` iterations of a
step run without gradients, ``n`` drawn uniformly from ``[0, iterations - 1]`` once per step,
and the remaining ``iterations - n`` with gradients. The block so learns to improve *any*
latent it is handed, not one reached after a fixed count, which is what lets it think longer
at test time. This is the paper's "incremental progress" loss with alpha = 1 (only that term);
its alpha < 1 mixture adds the loss of a second, full-depth pass with gradients through every
iteration: twice the cost per step, and the depth-tied behaviour the progressive term removes.
Unlike the paper, the iterations with gradients are not a second random count: a step always
runs ``iterations`` in all, so the carry after ``k`` supervision steps is ``k * iterations``
iterations deep, in training as in :meth:`DTNetModel.solve`. Eval mode runs all iterations
with gradients (as the caller's grad mode allows) and draws nothing.

**Thinking longer.** ``solve(inputs, max_steps=N)`` runs ``N * iterations`` iterations from the
input; ``trm-rl evaluate`` / ``solve`` scale N with the grid's cells (``default_steps``).

**The carry** follows the TRM's: a :class:`~trm_rl.model.trm.TRMCarry` whose ``z_H`` and
``z_L`` are the same latent ``[B, cells, width]`` (flat over the cells, channels last). Rows
halt only at ``halt_max_steps`` (default 1: every step takes a new example, as the one-shot
baselines); there is no early halting in training (the maze recipes train without it too). The
Q head is trained by the ACT loss to predict exact correctness, so ``solve(halt=True)`` can
stop a row early.

Choices of ours: tokens enter through an embedding (the paper projects image pixels with a
conv), which is also the fresh rows' initial latent (a zero latent would never see the input
without recall); the convs are bias-free without norms, as the paper's blocks; a per-cell
linear head (the paper: three 3x3 convs). Without recall the input reaches the gradient only
through the initial latent, so a step that starts with no-gradient iterations gives the
embedding no gradient: the paper pairs progressive training with recall for this reason.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from envs.utils import check_bool, check_int
from trm_rl.model.baselines import MATCH_TOLERANCE, _BaselineConfig, _closest, trm_parameters
from trm_rl.model.batch import Batch, check_batch, grid_shape
from trm_rl.model.config import ForwardDtype, TRMConfig
from trm_rl.model.trm import InnerCarry, SolveResult, TRMCarry, check_carry


@dataclass(frozen=True)
class DTNetConfig(_BaselineConfig):
    """A weight-tied recurrent conv net (DT-recall); runs on grids of any size."""

    kind: ClassVar[str] = "dtnet"
    any_grid_size: ClassVar[bool] = True
    _int_fields: ClassVar[dict[str, int]] = {
        "vocab_size": 2, "seq_len": 1, "width": 1, "block_layers": 1, "iterations": 1,
        "halt_max_steps": 1,
    }  # fmt: skip

    vocab_size: int = 11
    """Number of token ids."""
    seq_len: int = 81
    """Cells of the grid it is built for (flat ``[B, seq_len]`` inputs); ``[B, H, W]`` inputs
    may have any size."""
    grid_width: int | None = 9
    """Columns of the grid; required (flat inputs are read as seq_len / grid_width rows)."""
    width: int = 32
    """Channels of the latent feature map and of every conv."""
    block_layers: int = 2
    """Residual blocks (two 3x3 convs each) in the recurrent block."""
    iterations: int = 10
    """Iterations of the recurrent block per supervision step."""
    recall: bool = True
    """Concatenate the input embedding to the latent at every iteration (one more 3x3 conv,
    2 * width -> width)."""
    progressive: bool = True
    """Progressive training: a random number of each step's first iterations run without
    gradients (training mode only)."""
    halt_max_steps: int = 1
    """Supervision steps per example in training (the latent is carried between them);
    evaluation may run more (``solve(max_steps=...)``)."""
    forward_dtype: ForwardDtype = "float32"
    """Activation dtype (bfloat16 runs under autocast; parameters stay float32)."""

    def __post_init__(self) -> None:
        self._validate()
        if self.grid_width is None:
            raise ValueError(
                "DTNetConfig: grid_width is required (the columns of the grid; seq_len "
                f"{self.seq_len} = rows * grid_width)"
            )
        for name in ("recall", "progressive"):
            check_bool(f"DTNetConfig.{name}", getattr(self, name))

    @property
    def convs_per_iteration(self) -> int:
        """3x3 convs one iteration runs (the recall conv and two per residual block)."""
        return int(self.recall) + 2 * self.block_layers

    @property
    def num_parameters(self) -> int:
        """Parameter count of :class:`DTNetModel` (computed, not built)."""
        w, v = self.width, self.vocab_size
        convs = 9 * w * w * (2 * int(self.recall) + 2 * self.block_layers)  # recall: 2w -> w
        return v * w + convs + (w + 1) * v + (w + 1) * 2  # + embed, head, Q head


class ResidualBlock(nn.Module):
    """``z <- relu(z + conv(relu(conv(z))))``: two bias-free 3x3 convs, zero padding, no norm.

    :param width: channels in and out.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, kernel_size=3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, padding=1, bias=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # z: [B, C, H, W] -> [B, C, H, W]
        return F.relu(z + self.conv2(F.relu(self.conv1(z))))


class DTNetModel(nn.Module):
    """The recurrent conv net behind the TRM interface (``config``, ``check_batch``,
    ``initial_carry``, ``forward(carry, batch)``, ``solve``, ``num_parameters``,
    ``compile_network``, ``dtype``, ``puzzle_emb`` = None); see the module docstring.

    :param config: the architecture.
    """

    puzzle_emb = None  # no puzzle table: ``puzzle_identifiers`` are accepted and ignored

    def __init__(self, config: DTNetConfig) -> None:
        if not isinstance(config, DTNetConfig):
            raise ValueError(f"DTNetModel needs a DTNetConfig, got {type(config).__name__}")
        super().__init__()
        self.config = config
        w = config.width
        self.embed = nn.Embedding(config.vocab_size, w)
        self.recall_conv = (
            nn.Conv2d(2 * w, w, kernel_size=3, padding=1, bias=False) if config.recall else None
        )
        self.blocks = nn.ModuleList(ResidualBlock(w) for _ in range(config.block_layers))
        self.head = nn.Linear(w, config.vocab_size)
        self.q_head = nn.Linear(w, 2)  # (halt, continue) logits, as the TRM's
        with torch.no_grad():
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)  # sigmoid(-5) ~ 0.007: nobody halts until Q learns
        self._compiled_iterate: Callable | None = None

    @property
    def dtype(self) -> torch.dtype:
        """Activation dtype (``config.forward_dtype``; parameters stay float32)."""
        return self.config.torch_dtype

    def compile_network(self, **compile_kwargs) -> DTNetModel:
        """Run every iteration through ``torch.compile`` (the state dict is unchanged).

        :param compile_kwargs: passed to ``torch.compile``.
        :return: ``self``.
        """
        self._compiled_iterate = torch.compile(type(self).iterate, **compile_kwargs)
        return self

    def check_batch(self, batch: Mapping[str, Any]) -> int:
        """Check a batch where it enters (see :func:`trm_rl.model.batch.check_batch`).

        :raises ValueError: naming the entry, what it holds and what is expected.
        :return: the batch size ``B``.
        """
        return check_batch(batch, self.config, self.head.weight.device, puzzle_table=False)

    # ------------------------------------------------------------------------------ the network
    def iterate(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """One iteration of the weight-tied recurrent block.

        :param z: latent ``[B, C, H, W]``.
        :param x: input embedding ``[B, C, H, W]`` (read only with ``recall``).
        :return: the next latent ``[B, C, H, W]``.
        """
        if self.recall_conv is not None:
            z = F.relu(self.recall_conv(torch.cat((z, x), dim=1)))
        for block in self.blocks:
            z = block(z)
        return z

    def no_grad_iterations(self, progressive: bool) -> int:
        """How many of this step's first iterations run without gradients: uniform in
        ``[0, iterations - 1]`` (one draw from torch's global generator) when ``progressive``,
        else 0."""
        if not progressive:
            return 0
        return int(torch.randint(self.config.iterations, ()))

    def think(self, z: torch.Tensor, x: torch.Tensor, progressive: bool) -> torch.Tensor:
        """``iterations`` iterations from ``z``; with ``progressive``, the first
        :meth:`no_grad_iterations` without gradients."""
        run = self._compiled_iterate or type(self).iterate
        frozen = self.no_grad_iterations(progressive)
        with torch.no_grad():
            for _ in range(frozen):
                z = run(self, z, x)
        for _ in range(self.config.iterations - frozen):
            z = run(self, z, x)
        return z

    def step(
        self, latent: torch.Tensor, fresh: torch.Tensor, inputs: torch.Tensor, progressive: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One supervision step without ACT bookkeeping.

        :param latent: carried latent ``[B, cells, C]``.
        :param fresh: ``[B]`` bool, rows that start from the input (their latent is ignored).
        :param inputs: checked token ids ``[B, seq_len]`` or ``[B, H, W]``.
        :param progressive: draw no-gradient iterations (training only).
        :return: ``(detached latent [B, cells, C], logits [B, cells, V], q_halt [B],
            q_continue [B])``, the Q logits in float32.
        """
        rows, cols = grid_shape(inputs, self.config)
        size, width = inputs.shape[0], self.config.width
        autocast = (
            torch.autocast(inputs.device.type, dtype=self.dtype)
            if self.dtype != torch.float32
            else nullcontext()
        )
        with autocast:
            x = self.embed(inputs.long()).view(size, rows, cols, width).permute(0, 3, 1, 2)
            carried = latent.reshape(size, rows, cols, width).permute(0, 3, 1, 2).to(x.dtype)
            z = torch.where(fresh.view(-1, 1, 1, 1), x, carried)  # [B, C, H, W]
            z = self.think(z, x, progressive)
            h = z.permute(0, 2, 3, 1).flatten(1, 2)  # [B, H * W, C]
            logits = self.head(h)
            q = self.q_head(h.mean(dim=1)).float()
        return h.detach().to(self.dtype), logits, q[:, 0], q[:, 1]

    # ------------------------------------------------------------------------------------ ACT
    def initial_carry(self, batch: Batch) -> TRMCarry:
        """A carry in which every row is halted (zero latent), so the first :meth:`forward`
        loads the batch.

        :param batch: a batch (checked; its values are not used).
        :raises ValueError: for a malformed batch.
        """
        size = self.check_batch(batch)
        inputs = batch["inputs"]
        z = torch.zeros(self._latent_shape(inputs), dtype=self.dtype, device=inputs.device)
        return TRMCarry(
            inner=InnerCarry(z_H=z, z_L=z),
            steps=torch.zeros(size, dtype=torch.int32, device=inputs.device),
            halted=torch.ones(size, dtype=torch.bool, device=inputs.device),
            current_data={k: torch.zeros_like(v) for k, v in batch.items()},
        )

    def _latent_shape(self, inputs: torch.Tensor) -> tuple[int, int, int]:
        """``[B, cells, width]`` for checked ``inputs`` (cells = seq_len, or H * W)."""
        return inputs.shape[0], inputs[0].numel(), self.config.width

    def forward(self, carry: TRMCarry, batch: Batch) -> tuple[TRMCarry, dict[str, torch.Tensor]]:
        """One supervision step: ``iterations`` iterations from each row's latent.

        Halted rows restart (the latent becomes the input embedding, step 0, the new batch
        row); the others keep their example and latent. ``halted = steps >= halt_max_steps``
        (no early halting).

        :param carry: from :meth:`initial_carry` or the previous call.
        :param batch: ``{"inputs": [B, S] (or [B, H, W]), "labels": ..., ...}``; every key of
            the carry's ``current_data``, with the same shapes.
        :return: ``(new carry, outputs)`` with ``logits`` [B, cells, V], ``q_halt_logits`` [B]
            and ``q_continue_logits`` [B]; the carry's latent is detached.
        :raises ValueError: for a malformed batch, or a carry of another model, batch size or
            set of keys.
        """
        check_carry(carry, batch, self.check_batch(batch), self._latent_shape(batch["inputs"]))
        halted = carry.halted
        data = {
            k: torch.where(halted.view((-1,) + (1,) * (v.ndim - 1)), batch[k], v)
            for k, v in carry.current_data.items()
        }
        progressive = self.training and self.config.progressive
        latent, logits, q_halt, q_continue = self.step(
            carry.inner.z_H, halted, data["inputs"], progressive
        )
        outputs = {"logits": logits, "q_halt_logits": q_halt, "q_continue_logits": q_continue}
        with torch.no_grad():
            steps = torch.where(halted, 0, carry.steps) + 1
            halted = steps >= self.config.halt_max_steps
        inner = InnerCarry(z_H=latent, z_L=latent)
        return TRMCarry(inner=inner, steps=steps, halted=halted, current_data=data), outputs

    # ------------------------------------------------------------------------------ inference
    @torch.no_grad()
    def solve(
        self,
        inputs: torch.Tensor,
        max_steps: int | None = None,
        halt: bool = True,
        puzzle_identifiers: torch.Tensor | None = None,
    ) -> SolveResult:
        """Answer a batch of puzzles from the input (the same signature and result as
        :meth:`TRM.solve`): ``max_steps`` steps of ``iterations`` iterations each, all of
        them, without randomness, in either mode.

        :param inputs: token ids ``[B, seq_len]`` or ``[B, H, W]`` (any size).
        :param max_steps: supervision steps at most (default ``halt_max_steps``; may exceed it).
        :param halt: stop a row once ``q_halt > 0`` (otherwise every row runs ``max_steps``).
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
        device = inputs.device
        latent = torch.zeros(self._latent_shape(inputs), dtype=self.dtype, device=device)
        predictions = torch.zeros(size, inputs[0].numel(), dtype=torch.long, device=device)
        steps = torch.zeros(size, dtype=torch.int32, device=device)
        halt_probs = torch.zeros(size, device=device)
        done = torch.zeros(size, dtype=torch.bool, device=device)
        traj_pred, traj_prob = [], []
        for step in range(1, max_steps + 1):
            rows = (~done).nonzero().squeeze(1)
            fresh = torch.full((len(rows),), step == 1, dtype=torch.bool, device=device)
            new, logits, q_halt, _ = self.step(latent[rows], fresh, inputs[rows], False)
            latent[rows] = new
            predictions[rows] = logits.argmax(-1)
            halt_probs[rows] = torch.sigmoid(q_halt)
            steps[rows] = step
            if halt:
                done[rows] = q_halt > 0
            traj_pred.append(predictions.clone())
            traj_prob.append(halt_probs.clone())
            if bool(done.all()):
                break
        return SolveResult(
            predictions=predictions,
            steps=steps,
            halt_probs=halt_probs,
            trajectory_predictions=torch.stack(traj_pred),
            trajectory_halt_probs=torch.stack(traj_prob),
        )

    def num_parameters(self) -> int:
        """``sum(p.numel() for p in self.parameters())``."""
        return sum(p.numel() for p in self.parameters())


# ------------------------------------------------------------------------------------- matching
def matched_dtnet_config(
    trm_config: TRMConfig,
    block_layers: int = 2,
    width: int | None = None,
    recall: bool = True,
    iterations: int | None = None,
    grid_width: int | None = None,
) -> DTNetConfig:
    """A :class:`DTNetConfig` for the TRM's data whose parameter count is close to the TRM's
    (within 5% for every ``cpu-*`` preset).

    The width is solved for ``block_layers`` residual blocks; when no width comes within 5%,
    the block count moves to the nearest one that does. With ``width`` given, the block count
    is solved instead. ``iterations`` costs no parameters: it is passed through.

    :param trm_config: the TRM to match (vocabulary, grid and parameter count).
    :param block_layers: residual blocks in the recurrent block.
    :param width: fix the width and solve for the block count.
    :param recall: with the recall conv (it holds a third of the weights at 2 blocks).
    :param iterations: iterations per supervision step (default: DTNetConfig's).
    :param grid_width: columns of the grid (default: the TRM's ``grid_width``, else the side of
        a square ``seq_len``).
    :raises ValueError: for invalid arguments, or when the grid width is unknown (give
        ``grid_width``).
    """
    if not isinstance(trm_config, TRMConfig):
        raise ValueError(f"matched_dtnet_config needs a TRMConfig, got {type(trm_config).__name__}")
    block_layers = check_int("block_layers", block_layers, low=1)
    width = check_int("width", width, low=1, allow_none=True)
    columns = grid_width or trm_config.grid_width
    side = math.isqrt(trm_config.seq_len)
    if columns is None and side * side == trm_config.seq_len:
        columns = side
    if columns is None:
        raise ValueError(
            f"matched_dtnet_config: the TRM's seq_len {trm_config.seq_len} is not a square and "
            "its config has no grid_width; pass grid_width=<columns of the grid>"
        )
    extra = {} if iterations is None else {"iterations": iterations}
    base = DTNetConfig(
        vocab_size=trm_config.vocab_size,
        seq_len=trm_config.seq_len,
        grid_width=columns,
        block_layers=block_layers,
        recall=recall,
        forward_dtype=trm_config.forward_dtype,
        **extra,
    )
    target = trm_parameters(trm_config)

    def count(**changes: int) -> int:
        return dataclasses.replace(base, **changes).num_parameters

    if width is not None:
        blocks = _closest(target, lambda n: count(width=width, block_layers=n), 1, 1 << 20)
        return dataclasses.replace(base, width=width, block_layers=blocks)

    best: tuple[int, int, float] | None = None
    for offset in range(block_layers + 64):  # blocks block_layers, block_layers +- 1, ...
        for blocks in sorted({block_layers - offset, block_layers + offset}):
            if blocks < 1:
                continue
            w = _closest(target, lambda c, b=blocks: count(width=c, block_layers=b), 1, 1 << 16)
            gap = abs(count(width=w, block_layers=blocks) - target) / target
            if best is None or gap < best[2]:
                best = (blocks, w, gap)
        if best is not None and best[2] <= MATCH_TOLERANCE:
            break
    assert best is not None
    return dataclasses.replace(base, block_layers=best[0], width=best[1])


__all__ = ["DTNetConfig", "DTNetModel", "ResidualBlock", "matched_dtnet_config"]
