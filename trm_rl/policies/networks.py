"""The TRM as an actor-critic body for Maze and Sudoku observations.

:class:`TRMActorCritic` sits where SB3 puts its ``mlp_extractor``: it maps the token grid of an
observation to the actor's action logits (``latent_pi``) and a pooled state for the critic
(``latent_vf``). One call runs one TRM supervision step: ``H_cycles`` rounds of ``L_cycles``
latent updates and one answer update, the first ``H_cycles - 1`` rounds without gradients, as in
deep supervision.

The heads read the TRM's own state, with the shapes of the supervised model, so that a supervised
run can initialise a policy:

- **Sudoku** (action ``cell * N + digit - 1``): the supervised ``lm_head`` scores every digit of
  every cell; the logit of (cell, d) is the ``lm_head`` logit of token ``d + 1`` at that cell.
- **Maze** (action up, right, down, left): a linear head on the answer state ``z_H`` at the
  agent's cell (token ``S``), plus a learned multiple of the evidence that each neighbour is on
  the predicted path, read from the ``lm_head``: ``logsumexp(l_path, l_goal) - l_open``.
- **Critic**: the mean of ``z_H`` over the grid cells.

The state (``z_H``, ``z_L``) is passed in and out as one tensor ``[B, 2, positions, hidden]``, so
the carry variant (:mod:`trm_rl.policies.carry`) can store it per env step.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from envs.maze.types import GOAL, MOVES, OPEN, PATH, START
from trm_rl.model.config import TRMConfig
from trm_rl.model.trm import TRM

Game = Literal["maze", "sudoku"]
#: Sudoku token of digit 1 (blank 1, digit d -> d + 1).
FIRST_DIGIT = 2


class TRMActorCritic(nn.Module):
    """A TRM with policy and value readouts for one game and one grid shape.

    :param config: the TRM architecture; ``vocab_size`` must cover the observation tokens, and a
        global mixer (attention, sequence MLP) needs ``seq_len == rows * cols``.
    :param game: ``"maze"`` or ``"sudoku"``.
    :param grid_shape: ``(rows, cols)`` of the observations the policy is built for (a conv-mixer
        TRM also accepts other sizes at inference).
    :param think_steps: supervision steps per call (the earlier ones without gradients).
    """

    def __init__(
        self, config: TRMConfig, game: Game, grid_shape: tuple[int, int], think_steps: int = 1
    ) -> None:
        super().__init__()
        if not isinstance(think_steps, int) or isinstance(think_steps, bool) or think_steps < 1:
            raise ValueError(f"think_steps must be an int >= 1, got {think_steps!r}")
        self.think_steps = think_steps
        if game not in ("maze", "sudoku"):
            raise ValueError(f"game must be 'maze' or 'sudoku', got {game!r}")
        rows, cols = grid_shape
        cells = rows * cols
        if config.mixer != "conv" and config.seq_len != cells:
            raise ValueError(
                f"a {config.mixer} TRM is built for seq_len={config.seq_len} cells but the "
                f"observations are {rows}x{cols}={cells}; set seq_len={cells} (or use "
                "mixer='conv', which takes any grid)"
            )
        self.game = game
        self.grid_shape = (rows, cols)
        self.model = TRM(config)
        hidden = config.hidden_size
        if game == "sudoku":
            side = rows
            if config.vocab_size < side + FIRST_DIGIT:
                raise ValueError(
                    f"vocab_size={config.vocab_size} cannot hold the {side}x{side} Sudoku "
                    f"tokens; use vocab_size={side + FIRST_DIGIT}"
                )
            self.latent_dim_pi = cells * side
        else:
            if config.vocab_size <= max(GOAL, PATH):
                raise ValueError(
                    f"vocab_size={config.vocab_size} cannot hold the Maze tokens; use 6"
                )
            self.move_head = nn.Linear(hidden, len(MOVES))
            nn.init.zeros_(self.move_head.weight)
            nn.init.zeros_(self.move_head.bias)
            self.path_scale = nn.Parameter(torch.ones(()))
            self.latent_dim_pi = len(MOVES)
        self.latent_dim_vf = hidden

    # --------------------------------------------------------------------------------- state
    @property
    def config(self) -> TRMConfig:
        """The TRM's configuration."""
        return self.model.config

    def state_shape(self, grid_shape: tuple[int, int] | None = None) -> tuple[int, int, int]:
        """``(2, positions, hidden)``: the shape of one env's (z_H, z_L) state."""
        rows, cols = grid_shape or self.grid_shape
        return 2, self.config.prefix_len + rows * cols, self.config.hidden_size

    def initial_state(
        self,
        batch: int,
        grid_shape: tuple[int, int] | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """``[batch, 2, positions, hidden]``: every row at the learned ``H_init``/``L_init``."""
        model = self.model
        shape = (batch, *self.state_shape(grid_shape)[1:])
        z_L = model.L_init.to(model.dtype).expand(shape)
        z_H = z_L if self.config.single_z else model.H_init.to(model.dtype).expand(shape)
        state = torch.stack((z_H, z_L), dim=1)
        return state.to(dtype) if dtype is not None else state.clone()

    def reset_state(
        self, state: torch.Tensor, episode_start: torch.Tensor, grid_shape: tuple[int, int]
    ) -> torch.Tensor:
        """Rows of ``state`` where ``episode_start`` [B] is True go back to the initial state."""
        init = self.initial_state(state.shape[0], grid_shape, dtype=state.dtype)
        return torch.where(episode_start.view(-1, 1, 1, 1).to(torch.bool), init, state)

    # ------------------------------------------------------------------------------- thinking
    def think(
        self, tokens: torch.Tensor, state: torch.Tensor | None = None, steps: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run ``steps`` supervision steps (None: ``think_steps``) from ``state`` (None: the
        initial state).

        Only the last round of the last step keeps gradients (``full_backprop``: the last step).

        :param tokens: ``[B, rows, cols]`` token ids.
        :param state: ``[B, 2, positions, hidden]`` or None.
        :return: ``(z_H, next_state)``: the answer state ``[B, positions, hidden]`` with its
            gradients, and the detached ``[B, 2, positions, hidden]`` state after the last step.
        """
        model = self.model
        steps = self.think_steps if steps is None else steps
        grid = tuple(tokens.shape[1:])
        if state is None:
            state = self.initial_state(tokens.shape[0], grid)  # type: ignore[arg-type]
        inputs = tokens if self.config.mixer == "conv" else tokens.flatten(1)
        x = model.input_embeddings(inputs)
        z_H, z_L = state[:, 0].to(model.dtype), state[:, 1].to(model.dtype)
        grid_arg = model.grid_shape(inputs)
        with torch.no_grad():
            for _ in range(steps - 1):
                z_H, z_L = model.deep_recursion(z_H, z_L, x, grid_arg)
        z_H, z_L = model.deep_recursion(z_H, z_L, x, grid_arg)
        return z_H, torch.stack((z_H.detach(), z_L.detach()), dim=1)

    # --------------------------------------------------------------------------------- heads
    def heads(self, tokens: torch.Tensor, z_H: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(action logits [B, n_actions], critic features [B, hidden])`` from the answer state.

        :param tokens: ``[B, rows, cols]`` token ids (the Maze head finds the agent's cell).
        :param z_H: ``[B, positions, hidden]`` from :meth:`think`.
        """
        return self.readout(tokens, z_H[:, self.config.prefix_len :])

    def readout(
        self, tokens: torch.Tensor, cells: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`heads` from the answer state of the grid cells alone, ``[B, S, D]`` (``z_H``
        without its prefix positions; what a frozen trunk's rollout buffer stores)."""
        latent_vf = cells.float().mean(dim=1)
        logits = self.model.lm_head(cells).float()  # [B, S, V]
        if self.game == "sudoku":
            side = tokens.shape[-1]
            return logits[..., FIRST_DIGIT : FIRST_DIGIT + side].flatten(1), latent_vf
        return self._maze_logits(tokens, cells, logits), latent_vf

    def _maze_logits(
        self, tokens: torch.Tensor, cells: torch.Tensor, logits: torch.Tensor
    ) -> torch.Tensor:
        batch, rows, cols = tokens.shape
        agent = (tokens.flatten(1) == START).to(torch.int64).argmax(dim=1)  # [B]
        rows_idx = torch.arange(batch, device=tokens.device)
        own = self.move_head(cells[rows_idx, agent].float())  # [B, 4]
        on_path = torch.logsumexp(logits[..., [PATH, GOAL]], dim=-1) - logits[..., OPEN]
        padded = F.pad(on_path.view(batch, rows, cols), (1, 1, 1, 1))  # off-grid: 0 (masked)
        moves = torch.as_tensor(MOVES, device=tokens.device)
        r = (agent // cols + 1).view(-1, 1) + moves[:, 0].view(1, -1)
        c = (agent % cols + 1).view(-1, 1) + moves[:, 1].view(1, -1)
        neighbours = padded[rows_idx.view(-1, 1), r, c]  # [B, 4]
        return own + self.path_scale * neighbours

    # ---------------------------------------------------------------- SB3 mlp_extractor API
    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(latent_pi, latent_vf)`` after ``think_steps`` supervision steps from the initial
        state."""
        z_H, _ = self.think(tokens)
        return self.heads(tokens, z_H)

    def forward_actor(self, tokens: torch.Tensor) -> torch.Tensor:
        """Action logits (SB3 calls this when the extractor is not shared)."""
        return self.forward(tokens)[0]

    def forward_critic(self, tokens: torch.Tensor) -> torch.Tensor:
        """Critic features (SB3 calls this when the extractor is not shared)."""
        return self.forward(tokens)[1]


__all__ = ["FIRST_DIGIT", "Game", "TRMActorCritic"]
