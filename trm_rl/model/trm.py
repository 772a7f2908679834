"""The Tiny Recursive Model (Jolicoeur-Martineau, 2025) with its ACT carry.

One call of :meth:`TRM.forward` is one *supervision step* for every row of the batch:

    x = embed(puzzle prefix ; tokens)                    # once per step
    repeat T-1 times without gradients:                  # T = H_cycles, n = L_cycles
        repeat n times: z_L <- net(z_L + z_H + x)        # refine the latent z
        z_H <- net(z_H + z_L)                            # refine the answer y
    once more with gradients (same updates)
    carry <- (z_H, z_L).detach()
    logits = lm_head(z_H)[:, prefix:];  q = q_head(z_H[:, 0])   # or of mean(z_H[:, prefix:])

The carry lives across calls: a row keeps working on its example until it halts (Q head says
"done" in training, or ``halt_max_steps`` is reached); on the next call it restarts from
``H_init``/``L_init`` with the new batch row. Names follow the official code (``z_H`` = answer
``y``, ``z_L`` = latent ``z``).

With the conv mixer the network is local (3x3 per layer) and has no per-position weight, so one
model runs on grids of any size: pass ``inputs`` as ``[B, H, W]``; the carry then has
``prefix + H * W`` positions and the logits ``H * W`` (flat, row-major). The units mixer
(Sudoku rows, columns and boxes) changes only the network; the recursion is the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from envs.utils import check_bool, check_float, check_int
from trm_rl.model.batch import Batch, check_batch, grid_shape
from trm_rl.model.config import TRMConfig
from trm_rl.model.layers import CastedEmbedding, CastedLinear, Grid, ReasoningNet, trunc_normal_


@dataclass
class InnerCarry:
    """The two carried features (detached between supervision steps)."""

    z_H: torch.Tensor  # [B, prefix + cells, hidden] answer y (with single_z: the same as z_L)
    z_L: torch.Tensor  # [B, prefix + cells, hidden] latent z (cells = seq_len, or H * W)


@dataclass
class TRMCarry:
    """ACT state of every batch slot."""

    inner: InnerCarry
    steps: torch.Tensor  # [B] int32, supervision steps done on the current example
    halted: torch.Tensor  # [B] bool, True: the slot takes a new example on the next call
    current_data: Batch  # the example each slot works on ("inputs", "labels", ...)


@dataclass
class SolveResult:
    """Output of :meth:`TRM.solve`."""

    predictions: torch.Tensor  # [B, cells] argmax answer at each row's last step (flat grid)
    steps: torch.Tensor  # [B] int32, supervision steps used per row
    halt_probs: torch.Tensor  # [B] sigmoid(q_halt) at each row's last step
    trajectory_predictions: (
        torch.Tensor
    )  # [S, B, cells] answers after each step (frozen once a row stops)
    trajectory_halt_probs: torch.Tensor  # [S, B] sigmoid(q_halt) after each step


class PuzzleEmbedding(nn.Module):
    """Zero-initialised table of per-puzzle vectors, a persistent **buffer** (``weight``).

    As in the official code the table is not an ``nn.Parameter``: it is excluded from
    ``model.parameters()`` (so parameter counts match the paper) and from the dense optimizer.
    In training (grad enabled) the looked-up rows are a leaf tensor with ``requires_grad``;
    after ``backward`` :meth:`sparse_grad` returns the summed gradient per id and
    :meth:`sign_sgd_step` applies the official update (SignSGD with decoupled weight decay).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        """:param num_embeddings: number of puzzle identifiers.
        :param embedding_dim: width of one row.
        """
        super().__init__()
        self.register_buffer("weight", torch.zeros(num_embeddings, embedding_dim))
        self.local_ids: torch.Tensor | None = None  # [B] ids of the last training lookup
        self.local_weight: torch.Tensor | None = None  # [B, ndim] leaf that receives the grad

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        # ids: [B] -> [B, ndim] float32
        rows = self.weight[ids]
        if self.training and torch.is_grad_enabled():
            rows = rows.detach().requires_grad_(True)
            self.local_ids, self.local_weight = ids, rows
        return rows

    def sparse_grad(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(unique_ids [U], summed_grad [U, ndim])`` of the last training lookup, or None."""
        if self.local_weight is None or self.local_weight.grad is None:
            return None
        ids, inverse = self.local_ids.unique(return_inverse=True)
        grad = torch.zeros(len(ids), self.weight.shape[1], device=self.weight.device)
        grad.index_add_(0, inverse, self.local_weight.grad.float())
        return ids, grad

    @torch.no_grad()
    def sign_sgd_step(self, lr: float, weight_decay: float = 0.0) -> None:
        """Official update of the touched rows: ``w <- w * (1 - lr * wd) - lr * sign(grad)``.

        :param lr: learning rate (official ``puzzle_emb_lr``).
        :param weight_decay: decoupled weight decay (official ``puzzle_emb_weight_decay``).
        """
        lr = check_float("lr", lr, low=0.0)
        weight_decay = check_float("weight_decay", weight_decay, low=0.0)
        found = self.sparse_grad()
        if found is None:
            return
        ids, grad = found
        rows = self.weight[ids] * (1.0 - lr * weight_decay) - lr * torch.sign(grad)
        self.weight[ids] = rows
        self.local_weight = None


def check_carry(carry: TRMCarry, batch: Batch, size: int, expected: tuple[int, ...]) -> None:
    """Refuse a ``carry`` that does not belong to batches like ``batch`` (``size`` rows, the
    same keys and shapes) or to a model whose latents have shape ``expected``."""
    if not isinstance(carry, TRMCarry):
        raise ValueError(
            f"carry must be a TRMCarry from model.initial_carry(batch) or the previous call, "
            f"got {type(carry).__name__}"
        )
    if tuple(carry.halted.shape) != (size,) or tuple(carry.steps.shape) != (size,):
        raise ValueError(
            f"carry is for {carry.halted.numel()} rows but the batch has {size}; keep "
            "the batch size fixed or build a new carry with model.initial_carry(batch)"
        )
    if set(batch) != set(carry.current_data):
        raise ValueError(
            f"batch keys {sorted(batch)} differ from the carry's {sorted(carry.current_data)}; "
            "pass the same keys at every call (the carry was built by "
            "model.initial_carry(batch) from the first batch)"
        )
    for key, value in carry.current_data.items():
        if batch[key].shape != value.shape:
            raise ValueError(
                f"batch[{key!r}] has shape {list(batch[key].shape)} but the carry holds "
                f"{list(value.shape)}; keep shapes fixed across calls (a grid of another "
                "size needs its own carry: model.initial_carry(batch))"
            )
    for name, z in (("z_H", carry.inner.z_H), ("z_L", carry.inner.z_L)):
        if tuple(z.shape) != expected:
            raise ValueError(
                f"carry.inner.{name} has shape {list(z.shape)} but this model needs "
                f"{list(expected)}; build the carry with model.initial_carry(batch) of this "
                "model"
            )


class TRM(nn.Module):
    """Tiny Recursive Model: embeddings, one shared reasoning network, heads, ACT carry.

    :param config: the architecture (see :class:`TRMConfig`; ablations are flags there).
    """

    def __init__(self, config: TRMConfig) -> None:
        if not isinstance(config, TRMConfig):
            raise ValueError(
                f"TRM needs a TRMConfig, got {type(config).__name__}; build one with "
                "TRMConfig(...), TRMConfig.preset(name) or TRMConfig.from_dict(d)"
            )
        super().__init__()
        cfg = self.config = config
        self.embed_scale = math.sqrt(cfg.hidden_size)
        init_std = 1.0 / self.embed_scale
        # Construction order follows the official code so that one seed gives the same init.
        self.embed_tokens = CastedEmbedding(cfg.vocab_size, cfg.hidden_size, init_std)
        self.lm_head = CastedLinear(cfg.hidden_size, cfg.vocab_size, bias=False)  # untied
        self.q_head = CastedLinear(cfg.hidden_size, 2, bias=True)  # (halt, continue) logits
        self.puzzle_emb = (
            PuzzleEmbedding(cfg.num_puzzle_identifiers, cfg.puzzle_emb_dim)
            if cfg.puzzle_emb_dim > 0
            else None
        )
        self.embed_pos = (
            CastedEmbedding(cfg.total_len, cfg.hidden_size, init_std)
            if cfg.pos_encodings == "learned"
            else None
        )
        self.net = ReasoningNet(cfg)  # f_L, and f_H unless separate_networks
        self.net_H = ReasoningNet(cfg) if cfg.separate_networks else None
        if not cfg.single_z:
            self.register_buffer("H_init", trunc_normal_(torch.empty(cfg.hidden_size), std=1.0))
        self.register_buffer("L_init", trunc_normal_(torch.empty(cfg.hidden_size), std=1.0))
        with torch.no_grad():
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)  # sigmoid(-5) ~ 0.007: nobody halts until Q learns
        self._compiled_net: Callable | None = None

    # ------------------------------------------------------------------------ input validation
    def check_batch(self, batch: Mapping[str, Any]) -> int:
        """Check a batch where it enters the model (:meth:`initial_carry`, :meth:`forward` and
        :meth:`solve` call it); see :func:`trm_rl.model.batch.check_batch` for the contract.

        :param batch: ``{"inputs": [B, seq_len], "labels": ..., "puzzle_identifiers": ...}``
            (conv mixer: inputs may also be ``[B, H, W]``).
        :raises ValueError: naming the entry, what it holds and what is expected.
        :return: the batch size ``B``.
        """
        return check_batch(batch, self.config, self.L_init.device, self.puzzle_emb is not None)

    def grid_shape(self, inputs: torch.Tensor) -> Grid | None:
        """``(rows, cols)`` of the grid of checked ``inputs`` for the conv mixer, else None."""
        return grid_shape(inputs, self.config) if self.config.mixer == "conv" else None

    # ------------------------------------------------------------------------------ the network
    @property
    def dtype(self) -> torch.dtype:
        """Activation dtype (``config.forward_dtype``)."""
        return self.config.torch_dtype

    def compile_network(self, **compile_kwargs) -> TRM:
        """Run every reasoning-network call through ``torch.compile`` (>95% of the FLOPs).

        The state dict is unchanged (no ``_orig_mod.`` prefix) and deep copies keep working.

        :param compile_kwargs: passed to ``torch.compile`` (e.g. ``mode="max-autotune"``).
        :return: ``self``.
        """
        self._compiled_net = torch.compile(ReasoningNet.forward, **compile_kwargs)
        return self

    def _run(
        self,
        net: ReasoningNet,
        h: torch.Tensor,
        injection: torch.Tensor | None,
        grid: Grid | None = None,
    ) -> torch.Tensor:
        if self._compiled_net is not None:
            return self._compiled_net(net, h, injection, grid)
        return net(h, injection, grid)

    def f_L(
        self, z_L: torch.Tensor, injection: torch.Tensor | None, grid: Grid | None = None
    ) -> torch.Tensor:
        """Latent update network (``grid``: the conv mixer's (rows, cols))."""
        return self._run(self.net, z_L, injection, grid)

    def f_H(
        self, z_H: torch.Tensor, injection: torch.Tensor | None, grid: Grid | None = None
    ) -> torch.Tensor:
        """Answer update network (the same weights unless ``separate_networks``)."""
        return self._run(self.net_H if self.net_H is not None else self.net, z_H, injection, grid)

    def latent_recursion(
        self, z_H: torch.Tensor, z_L: torch.Tensor, x: torch.Tensor, grid: Grid | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One round: n latent updates, then one answer update.

        :param z_H: answer ``[B, L, D]``.
        :param z_L: latent ``[B, L, D]``.
        :param x: scaled input embedding ``[B, L, D]``.
        :param grid: (rows, cols) of the grid positions (conv mixer only).
        :return: updated ``(z_H, z_L)``.
        """
        if self.config.single_z:  # one feature: z <- net(z + x) n times, then z <- net(z)
            for _ in range(self.config.L_cycles):
                z_L = self.f_L(z_L, x, grid)
            z_L = self.f_L(z_L, None, grid)
            return z_L, z_L
        for _ in range(self.config.L_cycles):
            z_L = self.f_L(z_L, z_H + x, grid)  # z <- net(x + y + z)
        z_H = self.f_H(z_H, z_L, grid)  # y <- net(y + z)
        return z_H, z_L

    def deep_recursion(
        self, z_H: torch.Tensor, z_L: torch.Tensor, x: torch.Tensor, grid: Grid | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """T rounds; the first T-1 without gradients (all with gradients if ``full_backprop``)."""
        with nullcontext() if self.config.full_backprop else torch.no_grad():
            for _ in range(self.config.H_cycles - 1):
                z_H, z_L = self.latent_recursion(z_H, z_L, x, grid)
        return self.latent_recursion(z_H, z_L, x, grid)

    def input_embeddings(
        self, inputs: torch.Tensor, puzzle_identifiers: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``sqrt(D) * [puzzle prefix ; token embeddings]`` (``* 1/sqrt(2)`` after adding
        learned positions).

        :param inputs: token ids ``[B, seq_len]`` (conv mixer: or ``[B, H, W]``, flattened).
        :param puzzle_identifiers: ``[B]`` ids into the puzzle table (default 0).
        :return: ``[B, prefix + cells, D]`` in the forward dtype.
        """
        cfg, dtype = self.config, self.dtype
        emb = self.embed_tokens(inputs.flatten(1).to(torch.int32), dtype)  # [B, S, D]
        batch = inputs.shape[0]
        if cfg.prefix_len > 0:
            if self.puzzle_emb is not None:
                if puzzle_identifiers is None:
                    puzzle_identifiers = torch.zeros(batch, dtype=torch.long, device=inputs.device)
                rows = self.puzzle_emb(puzzle_identifiers.long()).to(dtype)  # [B, ndim]
                rows = F.pad(rows, (0, cfg.prefix_len * cfg.hidden_size - rows.shape[-1]))
                prefix = rows.view(batch, cfg.prefix_len, cfg.hidden_size)
            else:
                prefix = emb.new_zeros(batch, cfg.prefix_len, cfg.hidden_size)
            emb = torch.cat((prefix, emb), dim=1)  # [B, P + S, D]
        if self.embed_pos is not None:
            emb = math.sqrt(0.5) * (emb + self.embed_pos.weight.to(dtype))
        return self.embed_scale * emb

    def step(
        self, carry: InnerCarry, data: Batch
    ) -> tuple[InnerCarry, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One supervision step without ACT bookkeeping.

        :param carry: latents to start from.
        :param data: ``{"inputs": [B, S] or [B, H, W], "puzzle_identifiers": [B] (optional)}``.
        :return: ``(detached carry, logits [B, S, V], q_halt [B], q_continue [B])``, the
            logits in the forward dtype (``S = H * W`` for grid inputs), the Q logits in float32.
        """
        inputs = data["inputs"]
        x = self.input_embeddings(inputs, data.get("puzzle_identifiers"))
        z_H, z_L = self.deep_recursion(carry.z_H, carry.z_L, x, self.grid_shape(inputs))
        prefix = self.config.prefix_len
        logits = self.lm_head(z_H)[:, prefix:]
        if self.config.pooled_q_head:  # no prefix, or one the grid mixer never mixes with
            q = self.q_head(z_H[:, prefix:].mean(dim=1)).float()
        else:
            q = self.q_head(z_H[:, 0]).float()  # prefix position 0 acts as a CLS token
        return InnerCarry(z_H=z_H.detach(), z_L=z_L.detach()), logits, q[:, 0], q[:, 1]

    # ------------------------------------------------------------------------------------ ACT
    def reset_carry(self, reset: torch.Tensor, carry: InnerCarry) -> InnerCarry:
        """Rows where ``reset`` [B] is True restart from ``H_init``/``L_init``."""
        mask = reset.view(-1, 1, 1)
        z_L = torch.where(mask, self.L_init.to(self.dtype), carry.z_L)
        if self.config.single_z:
            return InnerCarry(z_H=z_L, z_L=z_L)
        return InnerCarry(z_H=torch.where(mask, self.H_init.to(self.dtype), carry.z_H), z_L=z_L)

    def initial_carry(self, batch: Batch) -> TRMCarry:
        """A carry in which every row is halted, so the first :meth:`forward` loads the batch.

        :param batch: a batch (checked by :meth:`check_batch`; its values are not used).
        :raises ValueError: for a malformed batch.
        """
        size = self.check_batch(batch)
        device = batch["inputs"].device
        shape = self._latent_shape(batch["inputs"])
        z = torch.zeros(shape, dtype=self.dtype, device=device)
        return TRMCarry(
            inner=InnerCarry(z_H=z, z_L=z),
            steps=torch.zeros(size, dtype=torch.int32, device=device),
            halted=torch.ones(size, dtype=torch.bool, device=device),
            current_data={k: torch.zeros_like(v) for k, v in batch.items()},
        )

    def _latent_shape(self, inputs: torch.Tensor) -> tuple[int, int, int]:
        """``[B, prefix + cells, hidden]``: the shape of z_H and z_L for checked ``inputs``."""
        cells = inputs[0].numel()  # seq_len, or H * W
        return inputs.shape[0], self.config.prefix_len + cells, self.config.hidden_size

    def _check_carry(self, carry: TRMCarry, batch: Batch, size: int) -> None:
        """``carry`` belongs to this model and to batches like ``batch`` (size, keys, shapes)."""
        check_carry(carry, batch, size, self._latent_shape(batch["inputs"]))

    def forward(self, carry: TRMCarry, batch: Batch) -> tuple[TRMCarry, dict[str, torch.Tensor]]:
        """One supervision step with ACT.

        Halted rows restart (fresh latents, step 0, the new batch row); the others keep their
        example. ``halted = steps >= halt_max_steps``; in training with ``act`` also when
        ``q_halt > 0`` (``q_halt > q_continue`` with ``q_continue``), except that with probability
        ``halt_exploration_prob`` a minimum step count in [2, halt_max_steps] is drawn. In eval
        mode rows only halt at ``halt_max_steps``.

        With ``q_continue`` (training only) an extra no-grad step from the new carry gives the
        target ``sigmoid(next q_halt)`` at the step cap and ``sigmoid(max(next q_halt,
        next q_continue))`` otherwise (HRM's Q-learning target; the official TRM path crashes).

        :param carry: from :meth:`initial_carry` or the previous call.
        :param batch: ``{"inputs": [B, S], "labels": [B, S], "puzzle_identifiers": [B], ...}``
            (conv mixer: inputs ``[B, H, W]``, labels ``[B, H, W]`` or ``[B, H * W]``); every key
            of the carry's ``current_data`` must be present, with the same shapes.
        :return: ``(new carry, outputs)`` with ``logits`` [B, S, V] (S = H * W for grid inputs),
            ``q_halt_logits`` [B], ``q_continue_logits`` [B] and, in q_continue training,
            ``target_q_continue`` [B].
        :raises ValueError: for a malformed batch (see :meth:`check_batch`), or a carry of another
            model, batch size or set of keys.
        """
        cfg = self.config
        self._check_carry(carry, batch, self.check_batch(batch))
        halted = carry.halted
        inner = self.reset_carry(halted, carry.inner)
        steps = torch.where(halted, 0, carry.steps)
        data = {
            k: torch.where(halted.view((-1,) + (1,) * (v.ndim - 1)), batch[k], v)
            for k, v in carry.current_data.items()
        }

        inner, logits, q_halt, q_continue = self.step(inner, data)
        outputs = {"logits": logits, "q_halt_logits": q_halt, "q_continue_logits": q_continue}

        with torch.no_grad():
            steps = steps + 1
            at_cap = steps >= cfg.halt_max_steps
            halted = at_cap
            if self.training and cfg.act and cfg.halt_max_steps > 1:
                halted = halted | (q_halt > q_continue if cfg.q_continue else q_halt > 0)
                explore = torch.rand_like(q_halt) < cfg.halt_exploration_prob
                min_steps = explore * torch.randint_like(steps, 2, cfg.halt_max_steps + 1)
                halted = halted & (steps >= min_steps)
                if cfg.q_continue:
                    _, _, next_halt, next_continue = self.step(inner, data)
                    target = torch.where(at_cap, next_halt, torch.maximum(next_halt, next_continue))
                    outputs["target_q_continue"] = torch.sigmoid(target)

        return TRMCarry(inner=inner, steps=steps, halted=halted, current_data=data), outputs

    # ------------------------------------------------------------------------------ inference
    @torch.no_grad()
    def solve(
        self,
        inputs: torch.Tensor,
        max_steps: int | None = None,
        halt: bool = True,
        puzzle_identifiers: torch.Tensor | None = None,
        stop_unchanged: int = 0,
    ) -> SolveResult:
        """Answer a batch of puzzles from a fresh carry.

        A row stops once its halting head says so (``halt``) or once its answer has not changed
        for ``stop_unchanged`` steps; a stopped row leaves the batch (its latents are dropped),
        so the network only runs on the rows still working. Every row's numbers are those of a
        run without stopping up to its last step: with ``stop_unchanged=0`` the answers are the
        first-halting answers of the full ``max_steps`` run.

        :param inputs: token ids ``[B, seq_len]`` (conv mixer: or ``[B, H, W]``, any size).
        :param max_steps: supervision steps at most (default ``halt_max_steps``; may exceed it).
        :param halt: stop a row once ``q_halt > 0`` (otherwise every row runs ``max_steps``,
            which is the official evaluation).
        :param puzzle_identifiers: ``[B]`` puzzle ids (default 0).
        :param stop_unchanged: also stop a row once its answer (the argmax grid) is the same
            after ``stop_unchanged`` consecutive steps as before them (0: never). Unlike
            ``halt`` this can change answers: the answer may still move later.
        :raises ValueError: for malformed inputs or ids (see :meth:`check_batch`), ``max_steps``
            that is not an int >= 1, ``halt`` that is not a bool, or ``stop_unchanged`` that is
            not an int >= 0.
        :return: :class:`SolveResult` with final answers, steps per row and the trajectory.
        """
        max_steps = check_int("max_steps", max_steps, low=1, allow_none=True)
        max_steps = self.config.halt_max_steps if max_steps is None else max_steps
        halt = check_bool("halt", halt)
        stop_unchanged = check_int("stop_unchanged", stop_unchanged, low=0)
        data: Batch = {"inputs": inputs}
        if puzzle_identifiers is not None:
            data["puzzle_identifiers"] = puzzle_identifiers
        size = self.check_batch(data)
        device = inputs.device
        carry = self.reset_carry(
            torch.ones(size, dtype=torch.bool, device=device), self.initial_carry(data).inner
        )
        predictions = torch.zeros(size, inputs[0].numel(), dtype=torch.long, device=device)
        steps = torch.zeros(size, dtype=torch.int32, device=device)
        halt_probs = torch.zeros(size, device=device)
        active = torch.arange(size, device=device)  # [A] batch rows still working
        unchanged = torch.zeros(size, dtype=torch.int32, device=device)  # [A] steps without change
        traj_pred, traj_prob = [], []
        for step in range(1, max_steps + 1):
            carry, logits, q_halt, _ = self.step(carry, data)
            answer = logits.argmax(-1)  # [A, cells]
            if stop_unchanged and step > 1:
                same = (answer == predictions[active]).all(1)
                unchanged = torch.where(same, unchanged + 1, 0)
            predictions[active] = answer
            halt_probs[active] = torch.sigmoid(q_halt)
            steps[active] = step
            traj_pred.append(predictions.clone())
            traj_prob.append(halt_probs.clone())
            stop = q_halt > 0 if halt else torch.zeros_like(q_halt, dtype=torch.bool)
            if stop_unchanged:
                stop = stop | (unchanged >= stop_unchanged)
            if step == max_steps or not bool(stop.any()):
                continue
            keep = (~stop).nonzero().squeeze(1)  # shrink the batch to the rows still working
            if len(keep) == 0:
                break
            active, unchanged = active[keep], unchanged[keep]
            data = {k: v[keep] for k, v in data.items()}
            z_L = carry.z_L[keep]
            carry = InnerCarry(z_H=z_L if self.config.single_z else carry.z_H[keep], z_L=z_L)
        return SolveResult(
            predictions=predictions,
            steps=steps,
            halt_probs=halt_probs,
            trajectory_predictions=torch.stack(traj_pred),
            trajectory_halt_probs=torch.stack(traj_prob),
        )

    def num_parameters(self) -> int:
        """``sum(p.numel() for p in self.parameters())`` (puzzle table excluded: a buffer)."""
        return sum(p.numel() for p in self.parameters())
