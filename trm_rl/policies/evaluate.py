"""Episode evaluation of RL policies on held-out puzzles: success, and success within twice the
optimal length (the headline metric).

- :func:`run_episodes`: play every given puzzle exactly once in the natively batched env;
  :func:`play_episodes` returns the per-puzzle :class:`EpisodeStats` it summarises.
- :func:`random_policy`, :func:`oracle_policy`: the floor and the ceiling of every metric.
- :func:`agent_act`: one of our trained agents as a policy (any grid size its network takes);
  :func:`sb3_policy`: any SB3 model, through its ``predict``.
- Held-out puzzles come from :func:`trm_rl.policies.split.heldout_split`.

A policy is an :data:`ActFn`, called on the whole batch at every step::

    split = heldout_split("trm_rl/Maze-9x9-v0", None, eval_size=512, seed=0)
    venv = make_sb3_vec_env(split.env_id, 64, seed=0, **split.train_env_kwargs)  # train on it
    print(evaluate_all(agent_act(agent), split))  # {"policy": ..., "random": ..., "oracle": ...}

The optimal length of an episode is the BFS shortest path from the start (Maze) or the number
of blanks at reset (Sudoku: one correct placement per blank).

``max_length_ratio`` cuts each episode once its metric is decided: with 2.0, an episode not
solved after ``2 * optimal`` steps has failed "within 2x" whatever it does next, so it counts as
a failure there and stops holding its wave. ``success_2x`` is then exactly what an uncapped play
gives, at a fraction of the cost for policies that fail by wandering (a random policy on a 31x31
maze would walk its whole ``4 * H * W`` step limit); ``success`` becomes success within the cap
(:attr:`EvalResult.max_length_ratio` says which). A policy that takes ``live`` (see
:data:`ActFn`; :func:`agent_act` does) runs its network only for the envs still counted.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import envs
from envs.maze.rules import parse_puzzle as parse_maze
from envs.maze.solver import goal_distances
from envs.maze.solver import oracle_actions as maze_oracle_actions
from envs.sudoku.rules import from_tokens, puzzle_from_input
from envs.sudoku.rules import parse_puzzle as parse_sudoku
from envs.sudoku.solver import oracle_actions as sudoku_oracle_actions
from envs.sudoku.solver import solve
from envs.utils import check_int
from trm_rl.policies.carry import HALT_CRITERIA, TRMCarryPolicy, halt_threshold_logit

__all__ = [
    "HEADLINE_RATIO",
    "ActFn",
    "EpisodeStats",
    "EvalResult",
    "accepts_live",
    "agent_act",
    "check_length_ratio",
    "length_caps",
    "oracle_policy",
    "play_episodes",
    "random_policy",
    "run_episodes",
    "sb3_policy",
]

#: The headline metric's ratio (success within 2x optimal): a cap of 2.0 decides it exactly.
HEADLINE_RATIO = 2.0

#: ``act(obs, action_masks, episode_start) -> actions``: ``obs`` the batched observation
#: (``grid`` (B, H, W) uint8, ``action_mask`` (B, A) int8), ``action_masks`` (B, A) bool,
#: ``episode_start`` (B,) bool (True on the first step of an env's episode: reset any recurrent
#: state there); returns (B,) integer actions. A policy may also take a keyword ``live``: (B,)
#: bool, False for the envs whose counted episode has ended (or that pad the last wave); their
#: actions are ignored, so it may skip computing them and return any action there
#: (:func:`agent_act` does).
ActFn = Callable[..., np.ndarray]


# ------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class EvalResult:
    """Summary of evaluation episodes (all fractions in [0, 1])."""

    episodes: int
    """Episodes played (one per puzzle)."""
    success: float
    """Fraction that reached the goal (Maze) or filled the board (Sudoku) within the episode's
    length cap: plain success when ``max_length_ratio`` is None, else success within
    ``max_length_ratio`` x optimal steps."""
    success_2x: float
    """Fraction that succeeded with ``length <= 2 * optimal``: the headline metric. Exact for
    any ``max_length_ratio`` of at least 2 (or None); nan below 2, where it is not known."""
    length_ratio: float
    """Mean of ``length / optimal`` over the successful episodes (within the cap); nan if none
    succeeded."""
    mean_length: float
    """Mean episode length in steps (failures count up to their truncation or cap)."""
    mean_optimal: float
    """Mean optimal length."""
    max_length_ratio: float | None = None
    """The length cap the episodes were played with: each was cut as a failure after
    ``floor(max_length_ratio * optimal)`` steps without success. None: only the env's own step
    limit (``success`` is plain success)."""

    def to_dict(self) -> dict[str, int | float | None]:
        """The fields as a JSON-friendly dict (nan becomes None)."""
        out: dict[str, int | float | None] = {"episodes": self.episodes}
        for name in ("success", "success_2x", "length_ratio", "mean_length", "mean_optimal"):
            value = float(getattr(self, name))
            out[name] = None if math.isnan(value) else value
        out["max_length_ratio"] = self.max_length_ratio
        return out


@dataclass(frozen=True)
class EpisodeStats:
    """One entry per puzzle, in the order the puzzles were given."""

    length: np.ndarray  # (K,) int64 steps taken (a cut episode: its cap)
    optimal: np.ndarray  # (K,) int64 optimal length (BFS path, or blanks)
    success: np.ndarray  # (K,) bool reached the goal / solved (within the cap)
    max_length_ratio: float | None = None
    """The cap the episodes were played with (see :attr:`EvalResult.max_length_ratio`)."""

    def success_2x(self) -> np.ndarray | None:
        """Per puzzle: succeeded with ``length <= 2 * optimal`` (the headline metric, puzzle by
        puzzle; for Sudoku, whose env truncates at twice the blanks by default, plain success).

        :return: (K,) bool, or None when the episodes were cut below 2x optimal (not known).
        """
        cap = self.max_length_ratio
        if cap is not None and cap < HEADLINE_RATIO:
            return None
        return self.success.astype(bool) & (self.length <= 2 * self.optimal)

    def summary(self) -> EvalResult:
        """The :class:`EvalResult` of these episodes."""
        length = self.length.astype(np.float64)
        optimal = self.optimal.astype(np.float64)
        ok = self.success.astype(bool)
        ratio = float(np.mean(length[ok] / optimal[ok])) if ok.any() else math.nan
        within_2x = self.success_2x()
        return EvalResult(
            episodes=len(length),
            success=float(ok.mean()),
            success_2x=math.nan if within_2x is None else float(within_2x.mean()),
            length_ratio=ratio,
            mean_length=float(length.mean()),
            mean_optimal=float(optimal.mean()),
            max_length_ratio=self.max_length_ratio,
        )


# ------------------------------------------------------------------------------------- playing
def env_game(env_id: Any) -> str:
    """``"maze"`` or ``"sudoku"`` for a registered trm_rl id."""
    if not isinstance(env_id, str) or env_id not in envs.ENV_IDS:
        raise ValueError(f"unknown env id {env_id!r}; use one of {sorted(envs.ENV_IDS)}")
    return envs.GAMES[env_id]


def checked_env_kwargs(env_kwargs: Any) -> dict[str, Any]:
    if env_kwargs is None:
        return {}
    if not isinstance(env_kwargs, dict):
        raise ValueError(f"env_kwargs must be a dict or None, got {type(env_kwargs).__name__}")
    return dict(env_kwargs)


def as_list(name: str, values: Any) -> list:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise ValueError(
            f"{name} must be a sequence (a list, or an array with one puzzle per row), got "
            f"{type(values).__name__}"
        )
    return list(values)


def play_episodes(
    env_id: str,
    act: ActFn,
    puzzles: Sequence,
    *,
    solutions: Sequence | None = None,
    env_kwargs: dict[str, Any] | None = None,
    num_envs: int = 32,
    seed: int = 0,
    max_length_ratio: float | None = None,
) -> EpisodeStats:
    """Play every puzzle exactly once and record each episode (see :func:`run_episodes`).

    :return: per-puzzle length, optimal length and success, in the order of ``puzzles``.
    """
    game = env_game(env_id)
    if not callable(act):
        raise ValueError(f"act must be a callable ActFn, got {type(act).__name__}")
    num_envs = check_int("num_envs", num_envs, low=1)
    seed = check_int("seed", seed, low=0)
    ratio = check_length_ratio(max_length_ratio)
    puzzles = as_list("puzzles", puzzles)
    if not puzzles:
        raise ValueError("puzzles is empty; pass at least one puzzle to evaluate")
    if solutions is not None:
        if game == "maze":
            raise ValueError("solutions are for Sudoku; a maze needs none (pass solutions=None)")
        solutions = as_list("solutions", solutions)
        if len(solutions) != len(puzzles):
            raise ValueError(
                f"got {len(solutions)} solutions for {len(puzzles)} puzzles; pass one per puzzle"
            )
    kwargs = checked_env_kwargs(env_kwargs)
    if game == "maze":
        kwargs["pool_size"] = 1  # every episode is given: skip generating the training pool
    batch = min(num_envs, len(puzzles))
    env = gym.make_vec(env_id, num_envs=batch, vectorization_mode="vector_entry_point", **kwargs)
    try:
        options = _reset_options(game, env, puzzles, solutions)
        key = "shortest_path_length" if game == "maze" else "num_blanks"
        length = np.zeros(len(puzzles), dtype=np.int64)
        optimal = np.zeros(len(puzzles), dtype=np.int64)
        success = np.zeros(len(puzzles), dtype=bool)
        for start in range(0, len(puzzles), batch):
            count = min(batch, len(puzzles) - start)
            # Pad the last wave with copies of its first puzzle; their episodes are ignored.
            rows = list(range(start, start + count)) + [start] * (batch - count)
            wave = {k: [v[i] for i in rows] for k, v in options.items()}
            try:
                obs, info = env.reset(seed=seed if start == 0 else None, options=wave)
            except ValueError:
                _name_bad_puzzle(game, puzzles, range(start, start + count))
                raise
            optimal[start : start + count] = info[key][:count]
            caps = None if ratio is None else length_caps(np.asarray(info[key]), ratio)
            steps, solved = _play_wave(env, act, obs, count, caps)
            length[start : start + count] = steps
            success[start : start + count] = solved
    finally:
        env.close()
    return EpisodeStats(length=length, optimal=optimal, success=success, max_length_ratio=ratio)


def run_episodes(
    env_id: str,
    act: ActFn,
    puzzles: Sequence,
    *,
    solutions: Sequence | None = None,
    env_kwargs: dict[str, Any] | None = None,
    num_envs: int = 32,
    seed: int = 0,
    max_length_ratio: float | None = None,
) -> EvalResult:
    """Play every puzzle exactly once (no bias towards short episodes) and summarise.

    Puzzles are played in waves of ``num_envs`` envs of the natively batched env; each env
    plays one given puzzle, and the episode is counted once, when it ends (terminated or
    truncated by the env's own step limit, or cut at its length cap). Envs that finish keep
    stepping on autoreset pool puzzles until the wave ends; those episodes are ignored, as are
    the padding envs of the last wave. A wave ends as soon as each of its counted episodes has
    ended. Every step calls ``act`` on the whole wave (``episode_start`` marks first steps).

    :param env_id: a registered ``trm_rl/...`` id.
    :param act: the policy (see :data:`ActFn`).
    :param puzzles: Maze: strings, (H, W) token arrays or ``MazePuzzle``; Sudoku: strings or
        (N, N) digit arrays (0 blank), of the env's size.
    :param solutions: Sudoku only: one solution per puzzle (else each puzzle is solved and must
        have exactly one solution).
    :param env_kwargs: constructor kwargs (rewards, ``max_steps``...). A Maze env is built with
        ``pool_size=1``: it never draws a pool maze that counts.
    :param num_envs: envs per wave.
    :param seed: seed of the env's first reset (the env's draws never reach a counted episode).
    :param max_length_ratio: cut an episode as a failure once it has taken
        ``floor(max_length_ratio * optimal)`` steps without success (>= 1; the env's step limit
        still applies). 2.0 decides ``success_2x`` exactly as an uncapped play would, and
        ``success`` then means success within 2x optimal; None: no cap (plain success).
    :raises ValueError: for an unknown id, a bad puzzle (naming its index), a solution count
        that is not one per puzzle, a ratio below 1, or an ``act`` that returns the wrong shape
        or dtype.
    """
    return play_episodes(
        env_id,
        act,
        puzzles,
        solutions=solutions,
        env_kwargs=env_kwargs,
        num_envs=num_envs,
        seed=seed,
        max_length_ratio=max_length_ratio,
    ).summary()


def check_length_ratio(value: Any) -> float | None:
    """``max_length_ratio`` as a float >= 1, or None.

    :raises ValueError: saying what to pass instead.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 1.0:
        raise ValueError(
            f"max_length_ratio must be a number >= 1 (episodes are cut after that many times "
            f"their optimal length; 2.0 keeps success_2x exact) or None for no cap, got "
            f"{value!r}"
        )
    if not math.isfinite(value):
        raise ValueError(
            f"max_length_ratio must be finite, got {value!r}; pass None to play without a cap"
        )
    return float(value)


def length_caps(optimal: np.ndarray, ratio: float) -> np.ndarray:
    """The most steps an episode may take and still be within ``ratio`` x ``optimal``:
    ``floor(ratio * optimal)`` (at least 1), with a relative tolerance so that a ratio written
    in decimal (1.1 x 10) is not floored below its exact product.

    :param optimal: (B,) optimal lengths.
    :return: (B,) int64 caps.
    """
    exact = ratio * np.asarray(optimal, dtype=np.float64)
    return np.maximum(1, np.floor(exact * (1 + 1e-12))).astype(np.int64)


def _reset_options(
    game: str, env: gym.vector.VectorEnv, puzzles: list, solutions: list | None
) -> dict[str, list]:
    """Per-puzzle reset options, each puzzle parsed once here so an error names its index (a
    maze's path from S to G is checked by the env's reset; see :func:`_name_bad_puzzle`)."""
    grid_shape = env.single_observation_space["grid"].shape
    parsed, solved = [], []
    for i, puzzle in enumerate(puzzles):
        try:
            if game == "maze":
                parsed.append(parse_maze(puzzle, grid_shape, check_solvable=False))
            else:
                answer = None if solutions is None else solutions[i]
                p = puzzle_from_input(puzzle, answer, grid_shape[0])
                parsed.append(p.puzzle)
                solved.append(p.solution)
        except ValueError as e:
            raise ValueError(f"puzzles[{i}]: {e}") from None
    return {"puzzles": parsed} if game == "maze" else {"puzzles": parsed, "solutions": solved}


def accepts_live(act: ActFn) -> bool:
    """Whether ``act`` takes the ``live`` keyword of :data:`ActFn`."""
    try:
        return "live" in inspect.signature(act).parameters
    except (TypeError, ValueError):  # a callable without a readable signature
        return False


def _name_bad_puzzle(game: str, puzzles: list, indices: range) -> None:
    """After a reset refused a wave: raise the error of its first unsolvable maze, naming the
    maze's index in ``puzzles`` (the env names its row in the wave). Returns for Sudoku, or
    when every maze is solvable (the caller re-raises the env's error)."""
    if game != "maze":
        return
    for i in indices:
        try:
            parse_maze(puzzles[i])
        except ValueError as e:
            raise ValueError(f"puzzles[{i}]: {e}") from None


def _play_wave(
    env: gym.vector.VectorEnv,
    act: ActFn,
    obs: dict[str, np.ndarray],
    count: int,
    caps: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Step until the first ``count`` envs have each finished one episode.

    An episode still running after ``caps[i]`` steps ends there as a failure; its env goes on
    stepping with the wave (a batched env cannot stop one row) but no longer holds it open, and a
    policy that takes ``live`` (see :data:`ActFn`) no longer acts for it.

    :param caps: (B,) most steps per counted episode (None: the env's own limit only).
    :return: (count,) steps and (count,) success of those episodes.
    """
    batch = env.num_envs
    active = np.arange(batch) < count
    steps = np.zeros(batch, dtype=np.int64)
    success = np.zeros(batch, dtype=bool)
    starts = np.ones(batch, dtype=bool)
    taken = 0  # steps since the wave's reset: every counted episode started there
    takes_live = accepts_live(act)
    while active.any():
        extra = {"live": active.copy()} if takes_live else {}
        actions = np.asarray(act(obs, env.action_masks(), starts.copy(), **extra))
        if actions.shape != (batch,) or actions.dtype.kind not in "iu":
            raise ValueError(
                f"act returned {actions.dtype} actions of shape {actions.shape}; it must "
                f"return ({batch},) integers, one action per env"
            )
        obs, _, terminated, truncated, infos = env.step(actions)
        starts = terminated | truncated  # same-step autoreset: these rows start anew
        ended = starts & active
        if ended.any():
            final = infos["final_info"]
            steps[ended] = final["steps"][ended]
            success[ended] = final["is_success"][ended]
            active &= ~ended
        taken += 1
        if caps is not None:
            cut = active & (caps <= taken)
            steps[cut] = taken  # a failure at its cap (success stays False)
            active &= ~cut
    return steps[:count], success[:count]


# ------------------------------------------------------------------------------------ policies
def random_policy(seed: int = 0) -> ActFn:
    """Uniform over each env's legal (unmasked) actions; action 0 where none is legal.

    :param seed: seed of its ``np.random.default_rng``.
    """
    rng = np.random.default_rng(check_int("seed", seed, low=0))

    def act(obs: dict[str, np.ndarray], masks: np.ndarray, starts: np.ndarray) -> np.ndarray:
        masks = np.asarray(masks, dtype=bool)
        scores = rng.random(masks.shape)
        scores[~masks] = -1.0  # the largest of iid uniforms over the legal entries: uniform
        return scores.argmax(axis=1)

    return act


def sb3_policy(model: Any, *, deterministic: bool = True) -> ActFn:
    """An SB3 model (``PPO``, ``MaskablePPO``, a recurrent policy) as an :data:`ActFn`.

    Calls ``model.predict`` on the batch with ``episode_start`` and the recurrent state it
    returned last (None for feed-forward policies), and ``action_masks`` when ``predict``
    accepts them (MaskablePPO).

    :param model: anything with SB3's ``predict(observation, state, episode_start,
        deterministic)``.
    :param deterministic: take the most likely action (else sample).
    """
    predict = getattr(model, "predict", None)
    if not callable(predict):
        raise ValueError(f"model must have SB3's predict(), got {type(model).__name__}")
    masked = "action_masks" in inspect.signature(predict).parameters
    state: Any = None

    def act(obs: dict[str, np.ndarray], masks: np.ndarray, starts: np.ndarray) -> np.ndarray:
        nonlocal state
        extra = {"action_masks": masks} if masked else {}
        actions, state = predict(
            obs, state=state, episode_start=starts, deterministic=deterministic, **extra
        )
        return np.asarray(actions)

    return act


def agent_act(
    agent: Any,
    deterministic: bool = True,
    adaptive: bool | None = None,
    halt_threshold: float | None = None,
    halt_by: str | None = None,
) -> ActFn:
    """One of our trained agents (``trm``, ``trm-carry``, ``mlp``, ``conv`` runs) as an
    :data:`ActFn`.

    It feeds the policy's tensors directly instead of going through ``predict`` (which checks
    the trained observation shape), so a size-agnostic policy (TRM with ``mixer="conv"``, the
    conv baseline) also acts on grids of other sizes. A ``trm-carry`` policy keeps each env's
    state and resets it at ``episode_start``. It takes ``live`` (see :data:`ActFn`): the network
    runs only on the envs whose action counts (the others get their first legal action).

    :param agent: an SB3 agent whose policy is a ``MaskableActorCriticPolicy`` (ours are).
    :param deterministic: take the most likely legal action (else sample).
    :param adaptive: ``trm-carry`` with ACT thinking time: False thinks the full
        ``think_rounds`` rounds at every step (default: stop when the halting head says so).
    :param halt_threshold: ``trm-carry`` with ACT thinking time: stop thinking once
        ``sigmoid(q_halt)`` exceeds this (default: the policy's, 0.5); higher thinks longer.
        With ``halt_by="confidence"``: once the most likely legal action has this probability.
    :param halt_by: ``trm-carry`` with ACT thinking time: ``"head"`` or ``"confidence"``
        (:data:`~trm_rl.policies.carry.HALT_CRITERIA`; default: the policy's).
    :return: the policy; for ``trm-carry`` its attribute ``think_steps`` is ``[rounds, actions]``
        summed over every action it computed (divide for the mean thinking rounds per action),
        and on mazes ``think_by_moves`` is ``{legal moves: [rounds, actions]}``: where the
        thinking went (1 legal move: a dead end, 2: a corridor, 3-4: a junction).
    """
    policy = getattr(agent, "policy", None)
    if policy is None or not hasattr(policy, "get_distribution"):
        raise ValueError(f"agent must be an SB3 agent with a policy, got {type(agent).__name__}")
    policy.set_training_mode(False)
    if halt_threshold is not None or halt_by is not None:
        if not isinstance(policy, TRMCarryPolicy) or policy.think_rounds is None:
            raise ValueError(
                "a halting threshold or criterion needs a trm-carry policy with ACT thinking "
                "time (trained with --think-rounds N)"
            )
        if halt_threshold is not None:
            halt_threshold_logit(halt_threshold)  # a clear error before any episode
        if halt_by is not None and halt_by not in HALT_CRITERIA:
            raise ValueError(f"halt_by must be one of {list(HALT_CRITERIA)}, got {halt_by!r}")
    state: dict[str, Any] = {}

    def act(
        obs: dict[str, np.ndarray],
        masks: np.ndarray,
        starts: np.ndarray,
        live: np.ndarray | None = None,
    ) -> np.ndarray:
        masks = np.asarray(masks, dtype=bool)
        out = masks.argmax(axis=1).astype(np.int64)  # rows not acted for: a legal action
        rows = np.arange(len(masks)) if live is None else np.flatnonzero(live)
        if not len(rows):
            return out
        tensors = {
            k: torch.as_tensor(np.asarray(v)[rows], device=policy.device) for k, v in obs.items()
        }
        with torch.no_grad():
            if isinstance(policy, TRMCarryPolicy):
                batch, grid = len(masks), tuple(tensors["grid"].shape[1:])
                current = state.get("z")
                if current is None or current.shape[0] != batch or state.get("grid") != grid:
                    current = policy.initial_state(batch, grid)  # type: ignore[arg-type]
                    state["grid"] = grid
                index = torch.as_tensor(rows, device=policy.device)
                start = torch.as_tensor(np.asarray(starts, dtype=bool)[rows], device=policy.device)
                default = (policy.halt_threshold, policy.halt_by)
                if halt_threshold is not None:
                    policy.halt_threshold = halt_threshold
                if halt_by is not None:
                    policy.halt_by = halt_by
                try:
                    actions, _, _, _, after = policy.step_state(
                        tensors, current[index], start, masks[rows], deterministic,
                        adaptive=adaptive,
                    )  # fmt: skip
                finally:
                    policy.halt_threshold, policy.halt_by = default
                current[index] = after.to(current.dtype)
                state["z"] = current
                rounds = policy.last_think_steps
                act.think_steps[0] += int(rounds.sum())  # type: ignore[attr-defined]
                act.think_steps[1] += rounds.numel()  # type: ignore[attr-defined]
                if masks.shape[1] == 4:  # a maze (the smallest Sudoku has 64 actions)
                    _count_by_moves(act.think_by_moves, masks[rows], rounds)  # type: ignore[attr-defined]
            else:
                distribution = policy.get_distribution(tensors, action_masks=masks[rows])
                actions = distribution.get_actions(deterministic=deterministic)
        out[rows] = actions.cpu().numpy().astype(np.int64).reshape(-1)
        return out

    act.think_steps = [0, 0]  # type: ignore[attr-defined]
    act.think_by_moves = {}  # type: ignore[attr-defined]
    return act


def _count_by_moves(counts: dict[int, list[int]], masks: np.ndarray, rounds: torch.Tensor) -> None:
    """Add each row's thinking rounds to ``counts[legal moves] = [rounds, actions]`` (a maze
    cell with 1 legal move is a dead end, 2 a corridor, 3-4 a junction)."""
    moves = masks.sum(axis=1)
    spent = rounds.detach().cpu().numpy()
    for k in np.unique(moves):
        chosen = moves == k
        entry = counts.setdefault(int(k), [0, 0])
        entry[0] += int(spent[chosen].sum())
        entry[1] += int(chosen.sum())


class _MazeOracle:
    """The batched maze oracle (:func:`envs.maze.solver.oracle_actions`: a move down the BFS
    distance to the goal), with each env's distance map computed once per episode, at its
    start (walls never change within an episode)."""

    def __init__(self) -> None:
        self._dist: np.ndarray | None = None  # (B, H, W) steps to goal of each env's maze

    def __call__(
        self, obs: dict[str, np.ndarray], masks: np.ndarray, starts: np.ndarray
    ) -> np.ndarray:
        grid = np.asarray(obs["grid"])
        starts = np.asarray(starts, dtype=bool)
        if self._dist is None or self._dist.shape != grid.shape:
            self._dist = np.zeros(grid.shape, dtype=np.int32)
            starts = np.ones(len(grid), dtype=bool)
        rows = np.flatnonzero(starts)
        if len(rows):
            self._dist[rows] = goal_distances(grid[rows])
        return maze_oracle_actions(grid, self._dist)


class _SudokuOracle:
    """The batched Sudoku oracle (:func:`envs.sudoku.solver.oracle_actions`: the solution's
    digit in the first blank cell). Each env's solution is looked up at its episode start by
    the board (the puzzle), or solved when the puzzle is not listed."""

    def __init__(self, pairs: list[tuple[Any, Any]]) -> None:
        self._pairs = pairs  # (puzzle, solution), parsed once the board size is known
        self._known: dict[bytes, np.ndarray] | None = None
        self._solution: np.ndarray | None = None  # (B, N, N) digits of each env's episode

    def _lookup(self, size: int) -> dict[bytes, np.ndarray]:
        if self._known is None:
            self._known = {
                parse_sudoku(p, size).tobytes(): parse_sudoku(s, size, what="solution")
                for p, s in self._pairs
            }
        return self._known

    def __call__(
        self, obs: dict[str, np.ndarray], masks: np.ndarray, starts: np.ndarray
    ) -> np.ndarray:
        grid = np.asarray(obs["grid"])
        board = from_tokens(grid)
        starts = np.asarray(starts, dtype=bool)
        if self._solution is None or self._solution.shape != board.shape:
            self._solution = np.zeros_like(board)
            starts = np.ones(len(board), dtype=bool)
        known = self._lookup(board.shape[1])
        for row in np.flatnonzero(starts).tolist():
            solution = known.get(board[row].tobytes())
            if solution is None:
                solution = solve(board[row])
            # An unsolvable board (never from the env) keeps zeros: the fallback below acts.
            self._solution[row] = 0 if solution is None else solution
        actions = np.asarray(masks, dtype=bool).argmax(axis=1)  # the fallback
        solved = np.flatnonzero(self._solution.any(axis=(1, 2)))
        if len(solved):
            actions[solved] = sudoku_oracle_actions(grid[solved], self._solution[solved])
        return actions


def oracle_policy(
    env_id: str, *, puzzles: Sequence | None = None, solutions: Sequence | None = None
) -> ActFn:
    """The optimal policy of a game, as an :data:`ActFn` (stateful: it reads ``episode_start``).

    Maze: a step along a BFS shortest path to the goal. Sudoku: the correct digit in the first
    blank cell, so it solves every puzzle in exactly its number of blanks; each env's solution
    is looked up by its puzzle at the episode start, from ``puzzles``/``solutions`` (pass the
    ones :func:`run_episodes` plays), else solved with the package's solver (slow for hard 9x9
    boards).

    :param env_id: a registered ``trm_rl/...`` id (it selects the game).
    :param puzzles: Sudoku: the puzzles whose solutions are given.
    :param solutions: Sudoku: one solution per puzzle.
    :raises ValueError: for an unknown id, solutions for a maze, or mismatched lists.
    """
    if env_game(env_id) == "maze":
        if solutions is not None:
            raise ValueError("the maze oracle needs no solutions; pass solutions=None")
        return _MazeOracle()
    if (puzzles is None) != (solutions is None):
        raise ValueError(
            "pass puzzles and solutions together (one solution per puzzle), or neither"
        )
    if puzzles is not None:
        puzzles, solutions = as_list("puzzles", puzzles), as_list("solutions", solutions)
        if len(puzzles) != len(solutions):
            raise ValueError(
                f"got {len(solutions)} solutions for {len(puzzles)} puzzles; pass one per puzzle"
            )
    return _SudokuOracle([] if puzzles is None else list(zip(puzzles, solutions, strict=True)))
