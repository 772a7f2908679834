"""Held-out splits for RL: a training pool and evaluation puzzles it never contains.

- :func:`heldout_split`: the training env's kwargs and the evaluation puzzles (never drawn by
  the training env);
- :func:`heldout_room`: how many evaluation puzzles a split of an env with a fixed puzzle set
  (Sudoku, maze files) can hold out, so a run can fit its evaluation sizes to the data;
- :func:`evaluate_all`: a policy, the random policy and the oracle on the same split, as the
  JSON ``trm-rl evaluate-ppo`` prints.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import envs
from envs.maze.config import MazeConfig
from envs.maze.generator import DatasetGenerator as MazeDataset
from envs.maze.pool import build_pool as build_maze_pool
from envs.maze.pool import make_generator
from envs.maze.types import WALL
from envs.sudoku.config import SudokuConfig
from envs.sudoku.io import write_sudoku_csv
from envs.sudoku.pool import SudokuPool
from envs.sudoku.pool import build_pool as build_sudoku_pool
from envs.utils import check_choice, check_int
from trm_rl.policies.evaluate import (
    ActFn,
    checked_env_kwargs,
    env_game,
    oracle_policy,
    random_policy,
    run_episodes,
)

__all__ = [
    "HELDOUT_BY",
    "HeldoutRoom",
    "Split",
    "default_train_pool_size",
    "evaluate_all",
    "heldout_room",
    "heldout_split",
]

#: How evaluation puzzles differ from training ones (see :func:`heldout_split`).
HELDOUT_BY = ("puzzle", "layout")

#: Second entropy word of the evaluation draws, so they never share a stream with a pool seed.
_EVAL_STREAM = 0x5E1D

#: Sudoku config fields that choose the pool; the training CSV replaces them all.
_SUDOKU_POOL_FIELDS = ("dataset", "givens", "difficulty", "pool_size", "pool_seed")


# --------------------------------------------------------------------------------------- split
@dataclass(frozen=True)
class Split:
    """A training pool and evaluation puzzles that it never contains."""

    env_id: str
    """The registered id both sides use."""
    train_env_kwargs: dict[str, Any]
    """Kwargs of ``gym.make``/``gym.make_vec``/``make_sb3_vec_env`` for the training env."""
    eval_env_kwargs: dict[str, Any]
    """Kwargs of the evaluation env: the same rewards and limits, no pool choice."""
    eval_puzzles: np.ndarray = field(repr=False)
    """(K, H, W) uint8: Maze token grids, or Sudoku digits (0 blank)."""
    eval_solutions: np.ndarray | None = field(default=None, repr=False)
    """(K, N, N) uint8 Sudoku solutions; None for mazes."""


def default_train_pool_size(shape: tuple[int, int]) -> int:
    """Training pool of generated mazes: 20,000 up to 15x15 (too many to memorise), fewer above
    so that generating it stays under about 15 s (4,682 at 31x31).

    Measured :func:`heldout_split` times (one shared CPU core, DFS, 1,000 evaluation mazes):
    9x9 5.5 s, 15x15 12 s, 31x31 13 s. The pool is cached in-process, so a training env built
    in the same process with ``train_env_kwargs`` does not generate it again.

    7x7 mazes have only about 3,800 wall layouts (60,000 draws), nearly all in a 20,000-maze
    pool: their pool is 2,000 mazes (about 1,600 layouts), which leaves over 2,000 layouts to
    hold out for evaluation.
    """
    if tuple(shape) == (7, 7):
        return 2_000
    return int(np.clip(4_500_000 // (shape[0] * shape[1]), 2_000, 20_000))


def heldout_split(
    env_id: str,
    env_kwargs: dict[str, Any] | None,
    eval_size: int,
    *,
    seed: int = 0,
    train_pool_size: int | None = None,
    workdir: str | Path | None = None,
    eval_solutions_from: np.ndarray | None = None,
    by: str = "puzzle",
) -> Split:
    """Split a game's puzzles into a training pool and ``eval_size`` puzzles never in it.

    - Generated mazes: the training env keeps its pool (``pool_size``: ``train_pool_size``,
      else ``env_kwargs["pool_size"]``, else :func:`default_train_pool_size`; ``pool_seed``:
      ``env_kwargs["pool_seed"]``, else ``seed``). Evaluation mazes are drawn from another
      stream of ``seed``; a maze equal to a training maze or to an earlier evaluation maze is
      dropped and another drawn, so the sets are disjoint by construction. With
      ``by="layout"`` a maze is dropped when its *walls* equal those of a training or earlier
      evaluation maze (whatever its start and goal): every evaluation layout is unseen.
    - Maze datasets (``trm_rl/MazeHard-v0``): the rows are split; the training env keeps all
      the others (or a ``train_pool_size`` subset) through ``pool_size``/``pool_seed``.
    - Sudoku: the env's puzzles (shipped pool or dataset, after its ``givens``/``difficulty``
      filter) are split by solution grid for 4x4 (only 288 grids exist: no evaluation solution
      is ever seen in training) and by puzzle otherwise. The training puzzles (optionally a
      ``train_pool_size`` subset) are written atomically to
      ``workdir/heldout_train_<id>_seed<seed>_eval<eval_size>_<config hash>.csv``, which the
      training env reads as its ``dataset`` (it replaces ``dataset``, ``givens``,
      ``difficulty``, ``pool_size`` and ``pool_seed`` in both kwargs; other fields are kept).

    Everything is deterministic in ``seed``.

    ``eval_solutions_from`` (Sudoku only) restricts the evaluation puzzles to those whose solution
    is one of these ``(K, N, N)`` grids: pass the solutions a supervised run held out
    (:func:`trm_rl.policies.agents.supervised_heldout_solutions`) so that a policy initialised
    from it is evaluated on puzzles its supervised training never saw.

    :param env_id: a registered ``trm_rl/...`` id.
    :param env_kwargs: the env's config fields (``size``, ``max_steps``, rewards...), or None.
    :param eval_size: number of evaluation puzzles.
    :param seed: seed of the split.
    :param train_pool_size: training puzzles (default: see above).
    :param workdir: folder of the Sudoku training CSV (required for Sudoku).
    :param by: mazes: ``"puzzle"`` (whole mazes differ) or ``"layout"`` (wall layouts differ);
        Sudoku takes only ``"puzzle"`` (see above).
    :raises ValueError: for an unknown id or field, too few puzzles for ``eval_size``, a
        Sudoku split without ``workdir``, ``eval_solutions_from`` for a maze, or ``by`` that
        does not apply.
    """
    game = env_game(env_id)
    check_choice("by", by, HELDOUT_BY)
    if by == "layout" and game != "maze":
        raise ValueError("held-out layouts are a maze split; a Sudoku split is by='puzzle'")
    kwargs = checked_env_kwargs(env_kwargs)
    eval_size = check_int("eval_size", eval_size, low=1)
    seed = check_int("seed", seed, low=0)
    train_pool_size = check_int("train_pool_size", train_pool_size, low=1, allow_none=True)
    rng = np.random.default_rng([seed, _EVAL_STREAM])
    if game == "maze":
        if eval_solutions_from is not None:
            raise ValueError("eval_solutions_from restricts Sudoku splits; pass None for mazes")
        return _maze_split(env_id, kwargs, eval_size, seed, train_pool_size, rng, by)
    if workdir is None:
        raise ValueError(
            "heldout_split writes the Sudoku training puzzles to a CSV: pass workdir=<a folder, "
            "e.g. the run directory>"
        )
    return _sudoku_split(
        env_id, kwargs, eval_size, seed, train_pool_size, Path(workdir), rng, eval_solutions_from
    )


def _maze_split(
    env_id: str,
    kwargs: dict[str, Any],
    eval_size: int,
    seed: int,
    train_pool_size: int | None,
    rng: np.random.Generator,
    by: str = "puzzle",
) -> Split:
    config = MazeConfig.from_kwargs(**{**envs.ENV_IDS[env_id], **kwargs})
    pool_seed = kwargs.get("pool_seed", seed)
    eval_kwargs = {k: v for k, v in kwargs.items() if k not in ("pool_size", "pool_seed")}
    if config.dataset is not None:
        rows = MazeDataset(config.dataset).puzzles
        most = len(rows) - eval_size
        if most < 1:
            raise ValueError(
                f"the maze dataset has {len(rows)} mazes: eval_size={eval_size} leaves none to "
                f"train on; pass eval_size < {len(rows)}"
            )
        size = train_pool_size or config.pool_size or most
        if size > most:
            raise ValueError(
                f"train_pool_size={size} but only {most} of the dataset's {len(rows)} mazes are "
                f"left after eval_size={eval_size}; lower one of them"
            )
    else:
        rows = None
        size = train_pool_size or config.pool_size or default_train_pool_size(config.shape)
    train = build_maze_pool(config.replace(pool_size=size, pool_seed=pool_seed))
    if rows is not None:  # the dataset rows in a seeded order
        limit, what = len(rows), "dataset rows (the file repeats mazes)"
        candidates = (rows[i].grid for i in rng.permutation(len(rows)).tolist())
    else:
        draw = make_generator(config)
        limit, what = 20 * eval_size + 1000, "draws (this maze size has few distinct mazes)"
        candidates = (draw(rng).grid for _ in range(limit))

    def key(grid: np.ndarray) -> bytes:
        return (grid == WALL).tobytes() if by == "layout" else grid.tobytes()

    seen = {key(grid) for grid in train.grids}
    picked: list[np.ndarray] = []
    for grid in candidates:
        if key(grid) not in seen:  # drop training mazes (layouts) and repeats
            seen.add(key(grid))
            picked.append(grid)
            if len(picked) == eval_size:
                break
    if len(picked) < eval_size:
        unit = "wall layouts" if by == "layout" else "mazes"
        hint = " or hold out whole mazes (by='puzzle', --heldout puzzle)" if by == "layout" else ""
        raise ValueError(
            f"found only {len(picked)} distinct {unit} outside the {size}-maze training pool in "
            f"{limit} {what}; lower eval_size or train_pool_size{hint}"
        )
    return Split(
        env_id=env_id,
        train_env_kwargs={**kwargs, "pool_size": size, "pool_seed": pool_seed},
        eval_env_kwargs=eval_kwargs,
        eval_puzzles=np.stack(picked).astype(np.uint8),
    )


def _sudoku_puzzles(
    env_id: str, kwargs: dict[str, Any], eval_solutions_from: np.ndarray | None
) -> tuple[SudokuConfig, SudokuPool, np.ndarray]:
    """The env's config, every puzzle of its filters and which may be evaluation puzzles."""
    config = SudokuConfig.from_kwargs(**{**envs.ENV_IDS[env_id], **kwargs})
    pool = build_sudoku_pool(config.replace(pool_size=None))  # every puzzle of the filters
    allowed = np.ones(len(pool), dtype=bool)  # may be an evaluation puzzle
    if eval_solutions_from is not None:
        flat_solutions = pool.solutions.reshape(len(pool), -1)
        given = np.asarray(eval_solutions_from, dtype=np.uint8).reshape(-1, flat_solutions.shape[1])
        keys = {row.tobytes() for row in given}
        allowed = np.array([row.tobytes() in keys for row in flat_solutions], dtype=bool)
    return config, pool, allowed


def _sudoku_indices(
    pool: SudokuPool,
    allowed: np.ndarray,
    eval_size: int,
    rng: np.random.Generator,
    by_grid: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the evaluation puzzles (fewer than ``eval_size`` when too few are allowed)
    and of the training puzzles (see :func:`heldout_split`); ``by_grid``: hold out whole
    solution grids (4x4)."""
    count = len(pool)
    if by_grid:
        flat_solutions = pool.solutions.reshape(count, -1)
        grids, grid_of = np.unique(flat_solutions, axis=0, return_inverse=True)
        grid_of = grid_of.ravel()
        held = np.zeros(count, dtype=bool)
        for g in rng.permutation(len(grids)).tolist():
            if held.sum() >= eval_size:
                break
            if allowed[grid_of == g].all():
                held |= grid_of == g
        eval_idx = np.sort(rng.permutation(np.flatnonzero(held))[:eval_size])
        return eval_idx, np.flatnonzero(~held)
    order = rng.permutation(count)
    order = np.concatenate([order[allowed[order]], order[~allowed[order]]])
    if allowed.sum() < eval_size:
        order = order[:0]  # reported by the caller: too few allowed puzzles
    eval_idx = np.sort(order[:eval_size])
    eval_keys = {p.tobytes() for p in pool.puzzles[eval_idx]}
    rest = np.sort(order[eval_size:])
    train_idx = rest[[pool.puzzles[i].tobytes() not in eval_keys for i in rest.tolist()]]
    return eval_idx, train_idx


def _sudoku_split(
    env_id: str,
    kwargs: dict[str, Any],
    eval_size: int,
    seed: int,
    train_pool_size: int | None,
    workdir: Path,
    rng: np.random.Generator,
    eval_solutions_from: np.ndarray | None = None,
) -> Split:
    config, pool, allowed = _sudoku_puzzles(env_id, kwargs, eval_solutions_from)
    count = len(pool)
    eval_idx, train_idx = _sudoku_indices(pool, allowed, eval_size, rng, config.size == 4)
    if len(eval_idx) < eval_size or len(train_idx) == 0:
        raise ValueError(
            f"the {config.size}x{config.size} pool has {count} puzzles ({int(allowed.sum())} "
            f"allowed for evaluation): too few for eval_size={eval_size} and a training pool; "
            "lower eval_size (--val-episodes/--test-episodes)"
        )
    size = train_pool_size or config.pool_size
    if size is not None:
        if size > len(train_idx):
            raise ValueError(
                f"train_pool_size={size} but only {len(train_idx)} puzzles are left for "
                f"training after eval_size={eval_size}; lower one of them"
            )
        train_idx = np.sort(rng.choice(train_idx, size=size, replace=False))
    name = env_id.split("/")[-1]
    key = repr((config, size)).encode() + np.packbits(allowed).tobytes()
    tag = hashlib.sha1(key).hexdigest()[:8]  # other configs or restrictions, other file
    path = workdir / f"heldout_train_{name}_seed{seed}_eval{eval_size}_{tag}.csv"
    train = SudokuPool(pool.puzzles[train_idx], pool.solutions[train_idx])
    write_sudoku_csv(train, path, f"heldout_split {env_id} seed={seed} eval_size={eval_size}")
    rest_kwargs = {k: v for k, v in kwargs.items() if k not in _SUDOKU_POOL_FIELDS}
    return Split(
        env_id=env_id,
        train_env_kwargs={**rest_kwargs, "dataset": str(path)},
        eval_env_kwargs=rest_kwargs,
        eval_puzzles=pool.puzzles[eval_idx].copy(),
        eval_solutions=pool.solutions[eval_idx].copy(),
    )


# ---------------------------------------------------------------------------------------- room
@dataclass(frozen=True)
class HeldoutRoom:
    """How many evaluation puzzles :func:`heldout_split` can hold out of an env's fixed puzzle
    set (a Sudoku pool or dataset, a maze file)."""

    source: str
    """The set in words, e.g. ``"the 4x4 Sudoku pool"``, ``"the maze dataset 'maze-hard'"``."""
    puzzles: int
    """Puzzles in the set (Sudoku: after the env's ``givens``/``difficulty`` filter)."""
    allowed: int
    """Of them, those that may be evaluation puzzles (``eval_solutions_from``; else all)."""
    most: int
    """The largest ``eval_size`` up to the one asked for that :func:`heldout_split` accepts with
    the same arguments (0: none)."""


def heldout_room(
    env_id: str,
    env_kwargs: dict[str, Any] | None,
    up_to: int,
    *,
    seed: int = 0,
    train_pool_size: int | None = None,
    eval_solutions_from: np.ndarray | None = None,
    by: str = "puzzle",
) -> HeldoutRoom | None:
    """How many of ``up_to`` evaluation puzzles :func:`heldout_split` (same arguments) can hold
    out of the env's fixed puzzle set, leaving a training pool (of ``train_pool_size`` or the
    env's ``pool_size`` when given). It writes nothing.

    The answer is exact: the split is deterministic in ``seed`` and holds out fewer puzzles as
    ``eval_size`` shrinks, so the largest size that fits is found by bisection (one dry split
    when ``up_to`` fits).

    :param up_to: the evaluation puzzles wanted (the search stops there).
    :return: the room, or None for generated mazes (an endless stream: no fixed set to run out
        of; :func:`heldout_split` says when a small maze size has too few distinct mazes).
    :raises ValueError: as :func:`heldout_split` for bad arguments.
    """
    game = env_game(env_id)
    check_choice("by", by, HELDOUT_BY)
    kwargs = checked_env_kwargs(env_kwargs)
    up_to = check_int("up_to", up_to, low=1)
    seed = check_int("seed", seed, low=0)
    train_pool_size = check_int("train_pool_size", train_pool_size, low=1, allow_none=True)

    def rng() -> np.random.Generator:  # the stream heldout_split draws from
        return np.random.default_rng([seed, _EVAL_STREAM])

    if game == "maze":
        config = MazeConfig.from_kwargs(**{**envs.ENV_IDS[env_id], **kwargs})
        if config.dataset is None:
            return None
        count = len(MazeDataset(config.dataset).puzzles)
        source, allowed = f"the maze dataset {config.dataset!r}", count

        def fits(size: int) -> bool:
            try:
                _maze_split(env_id, kwargs, size, seed, train_pool_size, rng(), by)
            except ValueError:
                return False
            return True
    else:
        config, pool, allowed_mask = _sudoku_puzzles(env_id, kwargs, eval_solutions_from)
        count, allowed = len(pool), int(allowed_mask.sum())
        source = (
            f"the Sudoku dataset {config.dataset!r}"
            if config.dataset is not None
            else f"the {config.size}x{config.size} Sudoku pool"
        )
        least_train = train_pool_size or config.pool_size or 1
        by_grid = config.size == 4

        def fits(size: int) -> bool:
            eval_idx, train_idx = _sudoku_indices(pool, allowed_mask, size, rng(), by_grid)
            return len(eval_idx) == size and len(train_idx) >= least_train

    return HeldoutRoom(source, count, allowed, _largest(fits, min(up_to, count)))


def _largest(fits: Any, high: int) -> int:
    """The largest ``n`` in ``[1, high]`` with ``fits(n)`` (0: none), for a monotone ``fits``."""
    if high >= 1 and fits(high):
        return high
    low = 0  # fits(low) holds (0: trivially), fits(high) does not
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    return low


# ------------------------------------------------------------------------------------- compose
def evaluate_all(
    act: ActFn,
    split: Split,
    *,
    episodes: int | None = None,
    num_envs: int = 32,
    seed: int = 0,
) -> dict[str, dict[str, int | float | None]]:
    """The policy, the random policy and the oracle on the same evaluation puzzles.

    :param act: the policy under test.
    :param split: from :func:`heldout_split` (or built by hand).
    :param episodes: play the first ``episodes`` evaluation puzzles (default: all).
    :param num_envs: envs per wave.
    :param seed: seed of the envs and of the random policy.
    :return: ``{"policy": ..., "random": ..., "oracle": ...}``, each :meth:`EvalResult.to_dict`.
    :raises ValueError: for ``episodes`` outside ``[1, len(split.eval_puzzles)]``.
    """
    if not isinstance(split, Split):
        raise ValueError(f"split must be a Split (see heldout_split), got {type(split).__name__}")
    total = len(split.eval_puzzles)
    episodes = check_int("episodes", total if episodes is None else episodes, low=1, high=total)
    puzzles = split.eval_puzzles[:episodes]
    solutions = None if split.eval_solutions is None else split.eval_solutions[:episodes]
    policies = {
        "policy": act,
        "random": random_policy(seed),
        "oracle": oracle_policy(
            split.env_id, puzzles=None if solutions is None else puzzles, solutions=solutions
        ),
    }
    return {
        name: run_episodes(
            split.env_id,
            policy,
            puzzles,
            solutions=solutions,
            env_kwargs=split.eval_env_kwargs,
            num_envs=num_envs,
            seed=seed,
        ).to_dict()
        for name, policy in policies.items()
    }
