"""``MazeEnv``: navigate from S to G on a grid maze; observations are Maze-Hard question grids."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.maze.batch import MazeBatch, load_episodes
from envs.maze.config import MazeConfig
from envs.maze.pool import Generator, build_pool
from envs.maze.render import render_ansi, render_rgb
from envs.maze.types import VOCAB_SIZE, MazeState
from envs.utils import check_action, check_options

_ROW = np.zeros(1, dtype=np.int64)  # the single env is row 0 of a batch of one
RENDER_MODES = ("ansi", "rgb_array")
#: How error messages describe the Maze actions.
MOVES_TEXT = "0..3 (up, right, down, left)"
#: Keys of ``MazeEnv.reset(options=...)``.
RESET_OPTIONS = ("puzzle", "index")


def check_render_mode(render_mode: str | None) -> None:
    """Refuse a render mode the Maze envs do not have, naming the ones they do."""
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode={render_mode!r}; use None or one of {list(RENDER_MODES)}")


def observation_space(shape: tuple[int, int]) -> spaces.Dict:
    """The flat Dict observation space of one Maze env of grid ``shape``."""
    return spaces.Dict(
        {
            "grid": spaces.Box(0, VOCAB_SIZE - 1, shape, dtype=np.uint8),
            "action_mask": spaces.MultiBinary(4),
        }
    )


class MazeEnv(gym.Env[dict[str, np.ndarray], int]):
    """
    ## Description
    The agent walks from the start ``S`` to the goal ``G`` of a grid maze. Mazes come from a
    pool pre-generated from ``pool_seed``: random perfect mazes (DFS backtracker or Prim) with
    optional loops (``braid``), or random-obstacle mazes of Maze-Hard's kind
    (``algorithm="obstacles"``), with a minimum S->G distance; or the mazes of a Maze-Hard CSV
    (``dataset="maze-hard"``: the 1000 bundled 30x30 training mazes, shortest paths 109-146).
    A specific maze can be given at reset: ``reset(options={"puzzle": "...# S  G..."})``, or a
    pool maze by index: ``reset(options={"index": 3})``.

    ## Observation
    ``Dict(grid=Box(0, 5, (H, W), uint8), action_mask=MultiBinary(4))``. ``grid`` uses the
    official TRM Maze token ids: 0 pad, 1 wall ``#``, 2 open, 3 ``S``, 4 ``G``, 5 path ``o``.
    The agent's current cell is shown as ``S``, so every observation is a valid Maze-Hard
    question from where the agent stands; the cell it leaves becomes open (or ``o`` with
    ``mark_trail=True``). On the goal the agent's ``S`` replaces ``G``.
    ``action_mask`` marks the moves that change the agent's cell (also ``action_masks()``).

    ## Action Space
    ``Discrete(4)``: 0 up, 1 right, 2 down, 3 left (jumanji's order). A move into a wall or off
    the grid is a no-op that still costs the step.

    ## Rewards
    +1 on reaching ``G``; ``-step_cost`` on every other step. With ``shaping=True`` the
    potential-based term ``shaping_gamma * phi(s') - phi(s)`` is added, where
    ``phi(s) = -d(s) / (H + W)`` and ``d`` is the BFS distance to ``G`` (0 at the goal), which
    leaves optimal policies unchanged for discount ``shaping_gamma``.

    ## Termination/Truncation
    Terminated when the agent reaches ``G``; truncated after ``max_steps`` steps (default
    ``4 * H * W``). ``info`` holds ``shortest_path_length`` (S->G at reset),
    ``distance_to_goal``, ``is_success`` and ``steps``.

    ## Arguments
    - ``size``: grid side (>= 5) or an (H, W) tuple; ignored with ``dataset``.
    - ``algorithm``: ``"dfs"`` (long corridors), ``"prim"`` (many short branches) or
      ``"obstacles"`` (independent random walls, like Maze-Hard; slow to draw at 30x30 with a
      long ``min_path_length``: 2-3 mazes/s at 109 steps).
    - ``braid``: dfs/prim only: in [0, 1], the probability of opening each dead end into a loop.
    - ``min_path_length``: minimum S->G shortest path in steps (Maze-Hard: 109-146 on 30x30).
    - ``wall_density``: obstacles only: wall probability, or a (lo, hi) range per maze
      (default (0.3, 0.5), Maze-Hard's).
    - ``dataset``: ``None``, ``"maze-hard"`` or the path of a CSV in that format.
    - ``pool_size``: mazes in the pool (default 1000, fewer above 15x15; a dataset: all rows).
    - ``pool_seed``: seed of the pool. ``generator``: an injected
      ``(np.random.Generator) -> MazePuzzle`` that overrides the six arguments above.
    - ``step_cost``, ``shaping``, ``shaping_gamma``, ``max_steps``, ``mark_trail``: see above.
    - ``render_mode``: ``"ansi"`` or ``"rgb_array"``; ``cell_px``: pixels per cell.

    ## Registered ids
    ``trm_rl/Maze-v0`` (9x9), ``trm_rl/Maze-5x5-v0``, ``trm_rl/Maze-7x7-v0``,
    ``trm_rl/Maze-9x9-v0``, ``trm_rl/Maze-15x15-v0``, ``trm_rl/Maze-31x31-v0``,
    ``trm_rl/MazeHard-v0``; batched:
    ``gym.make_vec(id, num_envs, vectorization_mode="vector_entry_point")``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": list(RENDER_MODES), "render_fps": 8}

    def __init__(
        self,
        render_mode: str | None = None,
        *,
        config: MazeConfig | None = None,
        generator: Generator | None = None,
        **kwargs: Any,
    ) -> None:
        check_render_mode(render_mode)
        self.render_mode = render_mode
        self.config = MazeConfig.from_kwargs(config, **kwargs)
        self.pool = build_pool(self.config, generator)
        self.shape = self.pool.shape
        self._batch = MazeBatch(1, self.shape, self.config)
        self.max_steps = self._batch.max_steps
        self.observation_space = observation_space(self.shape)
        self.action_space = spaces.Discrete(4)
        self._needs_reset = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode on a pool maze drawn with ``np_random``, or on
        ``options["puzzle"]`` (string, (H, W) array or ``MazePuzzle``) or pool maze
        ``options["index"]``."""
        super().reset(seed=seed)
        options = check_options(options, RESET_OPTIONS, "MazeEnv")
        puzzle, index = options.get("puzzle"), options.get("index")
        load_episodes(
            self._batch,
            _ROW,
            self.pool,
            self.np_random,
            puzzles=None if puzzle is None else [puzzle],
            indices=None if index is None else [index],
        )
        self._needs_reset = False
        return self._observation(), self._info()

    def step(
        self, action: int | np.integer
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Move the agent one cell (0 up, 1 right, 2 down, 3 left); see the class docstring."""
        if self._needs_reset:
            raise gym.error.ResetNeeded(
                "MazeEnv.step() needs a running episode: call reset() first (and again after "
                "an episode terminates or truncates)"
            )
        a = check_action(action, 4, MOVES_TEXT)
        reward, terminated, truncated = self._batch.step(np.array([a], dtype=np.int64))
        self._needs_reset = bool(terminated[0] or truncated[0])
        return (
            self._observation(),
            float(reward[0]),
            bool(terminated[0]),
            bool(truncated[0]),
            self._info(),
        )

    def action_masks(self) -> np.ndarray:
        """(4,) bool: the moves that change the agent's cell (MaskablePPO's hook)."""
        return self._batch.action_masks()[0]

    @property
    def state(self) -> MazeState:
        """A copy of the current episode's state."""
        b, (h, w) = self._batch, self.shape
        return MazeState(
            grid=b.grid[0].reshape(h, w).copy(),
            puzzle=b.puzzle(0),
            position=divmod(int(b.pos[0]), w),
            step_count=int(b.steps[0]),
            distance_to_goal=int(b.dist[0, b.pos[0]]),
        )

    def render(self) -> str | np.ndarray | None:
        """``"ansi"``: the grid as text; ``"rgb_array"``: an (H*cell_px, W*cell_px, 3) image."""
        grid = self._batch.grid[0].reshape(self.shape)
        if self.render_mode == "ansi":
            return render_ansi(grid)
        if self.render_mode == "rgb_array":
            goal = divmod(int(self._batch.goal[0]), self.shape[1])
            return render_rgb(grid, goal, self.config.cell_px)
        return None

    def _observation(self) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in self._batch.observation().items()}

    def _info(self) -> dict[str, Any]:
        return {k: v[0].item() for k, v in self._batch.info().items()}
