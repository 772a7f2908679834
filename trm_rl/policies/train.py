"""``trm-rl train-ppo`` / ``trm-rl evaluate-ppo``: PPO runs of TRM policies and their baselines.

A run directory holds:

- ``config.json``: the options, the resolved recipe, PPO's settings, the env arguments and the
  policy's description (algorithm, parameter count, TRM config);
- ``agent.zip``: the SB3 agent (weights, optimizer, timesteps, training seconds), replaced
  atomically at every checkpoint; ``--resume`` continues from it (the envs restart their
  episodes, the rollout in flight when the run stopped is collected again);
- ``agent_best.zip`` and ``best.json``: the agent at the validation with the best
  ``val/success_2x`` so far (the latest of equals) and that score with its env step; ``trm-rl
  evaluate-ppo --checkpoint best`` plays it (the checkpoint chosen on validation, scored on
  test; ``last``, the default, plays ``agent.zip``); ``agent_init.zip``: the agent before its
  first update (``--checkpoint init``, the step-0 policy), validated at step 0 like the others;
- ``heldout.npz``: the validation and test puzzles, never drawn by the training env (see
  :func:`~trm_rl.policies.evaluate.heldout_split`); Sudoku runs also keep their training CSV
  under ``data/``. Their numbers are ``config.json``'s ``val_episodes``/``test_episodes``: unset
  ones are the defaults, reduced with a note when the env's puzzles cannot hold them out
  (:func:`fit_eval_sizes`);
- ``metrics.csv`` and TensorBoard events with the same keys: SB3's ``rollout/*``, ``train/*``
  (the PPO losses) and ``time/*``, plus ``val/*`` (``val/success_2x``: success within 2x optimal,
  ``val/length_ratio``: length / optimal of those successes, on the validation puzzles with
  deterministic actions), ``time/train_minutes``, ``time/sps_train`` (env steps per second of
  training, validation excluded), ``time/eval_minutes`` (wall minutes spent validating) and
  ``time/eval_fraction`` (their share of training + validation), and with a ``--curriculum``
  ``curriculum/stage`` (0, 1, ...) and ``curriculum/size`` (the maze side).

Validation is cheap by construction: it plays with a 2x length cap
(:data:`~trm_rl.policies.evaluate.HEADLINE_RATIO`), so an episode stops as soon as it has failed
"within 2x optimal" and ``val/success_2x`` is exactly what an uncapped play gives (plain success
is not decided there and is not logged; ``trm-rl evaluate-ppo`` reports it on the test split). It
runs at fixed env steps (``--eval-every-steps``, by default 10 times over a ``--timesteps``
budget), or on the clock (``--eval-every-s``, the default for ``--minutes`` budgets).

A curriculum (``--curriculum 5 7`` on a 9x9 env) trains on growing mazes: the stages share
``--timesteps`` evenly, stage ``i`` of ``k`` starting at the first rollout boundary at or past
``i / k`` of it (:func:`curriculum_stages`), so the switches fall at the same env steps in every
run and after every resume. At a switch the agent keeps its weights, optimizer and counters and
gets a training env of the next size (:func:`train_on`); validation always plays the env's own
size, and every stage ends with a validation and a checkpoint.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import (
    CSVOutputFormat,
    KVWriter,
    Logger,
    TensorBoardOutputFormat,
)

from envs.maze.io import read_maze_csv
from envs.sudoku.io import read_sudoku_csv
from envs.utils import atomic_write, atomic_write_file, check_choice, check_int
from trm_rl import runs
from trm_rl.policies.agent_file import read_agent_file, restore_agent
from trm_rl.policies.agents import build_agent, supervised_heldout_solutions
from trm_rl.policies.carry import CarryRolloutBuffer
from trm_rl.policies.config import (
    DEFAULT_TEST_EPISODES,
    DEFAULT_VAL_EPISODES,
    EnvArgs,
    PPOArgs,
    PPOConfig,
    PPOSettingsArgs,
    env_config_class,
    make_env_spec,
    resolve_ppo,
)
from trm_rl.policies.evaluate import (
    HEADLINE_RATIO,
    agent_act,
    check_length_ratio,
    oracle_policy,
    play_episodes,
    random_policy,
    run_episodes,
)
from trm_rl.policies.paired import (
    OUTCOMES_KEY,
    PUZZLES_KEY,
    outcomes_text,
    paired_entry,
    puzzles_sha1,
)
from trm_rl.policies.split import HeldoutRoom, Split, heldout_room, heldout_split
from trm_rl.policies.vec_env import make_sb3_vec_env
from trm_rl.tracking import WandbRun, check_wandb, open_wandb
from trm_rl.utils import resolve_device, set_seed, torch_threads

AGENT = "agent.zip"
#: The agent at the best validation so far, and its score and env step.
BEST_AGENT = "agent_best.zip"
BEST = "best.json"
#: The agent before its first update (the step-0 policy: a supervised init's, or the untrained).
INIT_AGENT = "agent_init.zip"
#: The checkpoints a run keeps: its last agent, its best on validation and its step-0 agent.
CHECKPOINTS: tuple[str, ...] = ("last", "best", "init")
CHECKPOINT_FILES: dict[str, str] = {"last": AGENT, "best": BEST_AGENT, "init": INIT_AGENT}
HELDOUT = "heldout.npz"
METRICS = "metrics.csv"
#: Most envs per validation wave (one policy forward per step on all of them).
VAL_WAVE = 64
#: Validation seconds so far, saved with the agent beside ``trm_train_seconds``.
EVAL_SECONDS = "trm_eval_seconds"


# ---------------------------------------------------------------------------------- helpers
def _threads(n: int | None) -> None:
    if n is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)


def _save_agent(
    agent: Any, run_dir: Path, train_seconds: float, eval_seconds: float, name: str = AGENT
) -> None:
    agent.trm_train_seconds = float(train_seconds)  # saved with the agent's attributes
    setattr(agent, EVAL_SECONDS, float(eval_seconds))
    atomic_write_file(run_dir / name, lambda tmp: agent.save(tmp))


def read_best(run_dir: str | Path) -> dict[str, Any] | None:
    """The run's ``best.json`` (``{"val/success_2x": score, "timesteps": env steps}``), None
    when it kept no best checkpoint yet (or the file is unreadable)."""
    try:
        best = json.loads((Path(run_dir) / BEST).read_text())
        return {
            "val/success_2x": float(best["val/success_2x"]),
            "timesteps": int(best["timesteps"]),
        }
    except (OSError, ValueError, KeyError, TypeError):
        return None


def even_waves(episodes: int, most: int) -> int:
    """Envs per wave that play ``episodes`` in as few waves of at most ``most`` envs as
    possible, all about equally full: 200 puzzles play as 4 waves of 50, not 3 of 64 and one
    of 8 padded to 64 (every step of a wave runs the policy on all of its envs)."""
    waves = -(-episodes // most)
    return -(-episodes // waves)


def read_ppo_config(run_dir: str | Path) -> dict[str, Any]:
    """``config.json`` of a PPO run (a clear error when the folder is not one)."""
    return runs.read_config(run_dir, "ppo")


def stored_ppo_config(stored: dict[str, Any]) -> PPOConfig:
    """The :class:`PPOConfig` of a PPO run's ``config.json`` dict: format 2, or format 1 (flat
    options, written before the config tree; rebuilt through the older flags it used).

    :raises ValueError: when the dict is not a PPO run's config.
    """
    if stored.get("format", 1) >= 2:
        return PPOConfig.from_dict(stored["config"])
    try:
        # sizes a format-1 run left out were the defaults of its day (no reduction then)
        options = {"val_episodes": DEFAULT_VAL_EPISODES, "test_episodes": DEFAULT_TEST_EPISODES}
        options.update(stored["options"])
        ppo = {k: v for k, v in stored["ppo"].items() if k != "n_envs"}
        ppo["n_envs"] = stored.get("recipe", {}).get("n_envs") or options.get("n_envs")
        args = PPOArgs(
            env=EnvArgs(id=options["env"]),
            policy=options["policy"],
            ppo=PPOSettingsArgs(**{k: v for k, v in ppo.items() if v is not None}),
            preset=options.get("preset"),
            model_set=tuple(options.get("model_set", ())),
            env_set=tuple(options.get("env_set", ())),
            halt_max_steps=options.get("halt_max_steps"),
            **{k: options[k] for k in _FORMAT1_RUN_FIELDS if k in options},
        )
        cfg = resolve_ppo(args)
    except (KeyError, TypeError) as e:
        raise ValueError(f"not a PPO run config ({e}); was config.json edited?") from None
    model = stored.get("model")
    if model:  # the TRM exactly as the run built it (e.g. from --init-from)
        from_run = type(cfg.model).from_dict(model)
        cfg = dataclasses.replace(cfg, model=from_run)
    init = options.get("init_from")
    return dataclasses.replace(cfg, init_from=None if init is None else Path(init))


_FORMAT1_RUN_FIELDS = (
    "out", "timesteps", "minutes", "seed", "think_steps", "freeze_trm", "state_dtype",
    "val_episodes", "test_episodes", "eval_every_s", "device", "compile", "rollout_threads",
    "update_threads", "progress", "tensorboard", "checkpoint_seconds",
)  # fmt: skip


def _spaces_env(cfg: PPOConfig) -> Any:
    """A small batched env of the run's game and size: the spaces an agent is built on."""
    return make_sb3_vec_env(cfg.env.id, 1, seed=cfg.seed, **cfg.env.kwargs)


def load_agent(
    run_dir: str | Path, device: str = "auto", env: Any = None, checkpoint: str = "last"
) -> Any:
    """The trained SB3 agent of a run (``MaskablePPO`` or ``CarryMaskablePPO``).

    The agent is rebuilt from ``config.json`` and only its weights, optimizer state and plain
    counters are read from ``agent.zip`` (never pickled objects: a file someone sent you cannot
    run code). Its ``predict(obs, state=None, episode_start=None, deterministic=True,
    action_masks=None)`` takes the observation of one ``gym.make(id)`` env (or a batch); a
    ``trm-carry`` agent returns and takes its state as ``state``, the way ``RecurrentPPO`` does.

    :param run_dir: the ``--out`` folder of ``trm-rl train-ppo``.
    :param device: "auto", "cpu", "cuda", ...
    :param env: optional env to attach (for further ``learn`` calls).
    :param checkpoint: ``"last"`` (``agent.zip``), ``"best"`` (``agent_best.zip``, the agent at
        the run's best validation) or ``"init"`` (``agent_init.zip``, before the first update).
    :raises ValueError: when the folder is not a PPO run, has no such agent yet, or its files
        are damaged or do not fit each other.
    """
    run_dir = Path(run_dir)
    stored = read_ppo_config(run_dir)
    check_choice("checkpoint", checkpoint, CHECKPOINTS)
    path = run_dir / CHECKPOINT_FILES[checkpoint]
    if not path.exists() and checkpoint != "last":
        raise ValueError(
            f"run {str(run_dir)!r} kept no {path.name} (runs trained before best and step-0 "
            "checkpoints were kept, or none validated yet); play its last agent (--checkpoint "
            "last)"
        )
    if not path.exists():
        raise ValueError(
            f"run {str(run_dir)!r} has no {AGENT} yet; wait for its first checkpoint or resume it"
        )
    cfg = dataclasses.replace(stored_ppo_config(stored), init_from=None)
    agent_file = read_agent_file(path)
    venv = env if env is not None else _spaces_env(cfg)
    agent, _ = build_agent(cfg, venv, resolve_device(device))
    restore_agent(agent, agent_file)
    if env is None:
        venv.close()
        agent.env = None
    return agent


def load_heldout(run_dir: Path) -> dict[str, np.ndarray]:
    """The run's validation and test puzzles (``val_puzzles``, ``test_puzzles``, solutions)."""
    path = Path(run_dir) / HELDOUT
    if not path.exists():
        raise ValueError(f"run {str(run_dir)!r} has no {HELDOUT}; was it made by trm-rl train-ppo?")
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


# ------------------------------------------------------------------------------- curriculum
@dataclass(frozen=True)
class Stage:
    """One training stage: the maze size it trains on and the env steps it covers."""

    index: int
    """0, 1, ... in training order."""
    size: int | None
    """Maze side of the training env (None: the env as configured, no curriculum)."""
    start: int
    """First env step of the stage (a multiple of n_envs x n_steps)."""
    end: int | None
    """Env step where the next stage starts (None: the last stage runs to the budget)."""


def curriculum_stages(cfg: PPOConfig) -> tuple[Stage, ...]:
    """The training stages of a run, deterministic in env steps.

    Without a curriculum: one stage on the configured env. With sizes ``s_0 < ... < s_{k-1}``
    (:attr:`~trm_rl.policies.config.PPOConfig.curriculum_sizes`): stage ``i`` starts at
    ``ceil(i * timesteps / (k * R)) * R`` with ``R = n_envs * n_steps``, the first rollout
    boundary at or past its even share of the budget (PPO collects whole rollouts, so a stage
    can only change between two of them). The config guarantees ``timesteps >= k * R``, so no
    stage is empty.
    """
    sizes = cfg.curriculum_sizes
    if not sizes:
        return (Stage(0, None, 0, None),)
    k, rollout, total = len(sizes), cfg.ppo.n_envs * cfg.ppo.n_steps, int(cfg.timesteps or 0)
    starts = [-(-i * total // (k * rollout)) * rollout for i in range(k)]
    ends: list[int | None] = [*starts[1:], None]
    return tuple(
        Stage(i, size, start, end)
        for i, (size, start, end) in enumerate(zip(sizes, starts, ends, strict=True))
    )


def stage_at(stages: tuple[Stage, ...], timesteps: int) -> Stage:
    """The stage that trains at env step ``timesteps`` (the last one past the final switch)."""
    return [s for s in stages if s.start <= timesteps][-1]


def train_on(agent: Any, venv: Any) -> None:
    """Train ``agent`` on ``venv`` from its next rollout, mazes of another size included.

    The weights, the optimizer and the counters stay. The agent's and the policy's observation
    space become ``venv``'s (SB3 checks observation shapes against them; the policies are size
    agnostic, see :meth:`PPOConfig._check_curriculum`), SB3's ``set_env`` takes the env (the
    episodes restart at the next ``learn``), the rollout buffer is rebuilt for the new grid
    (``trm-carry``: with states of the new grid) and the episode statistics restart so that
    ``rollout/*`` describes this env only.
    """
    space = venv.observation_space
    agent.observation_space = space
    agent.policy.observation_space = space
    agent.set_env(venv)
    grid = tuple(int(n) for n in space["grid"].shape)
    old = agent.rollout_buffer
    extra: dict[str, Any] = {}
    if isinstance(old, CarryRolloutBuffer):
        extra = {"state_shape": agent.policy.state_shape(grid), "state_dtype": old.state_dtype}
        agent._last_state = agent.policy.initial_state(agent.n_envs, grid)
    agent.rollout_buffer = type(old)(
        agent.n_steps, space, agent.action_space, device=agent.device, gamma=agent.gamma,
        gae_lambda=agent.gae_lambda, n_envs=agent.n_envs, **agent.rollout_buffer_kwargs, **extra,
    )  # fmt: skip
    for name in ("ep_info_buffer", "ep_success_buffer"):
        if getattr(agent, name, None) is not None:
            getattr(agent, name).clear()


# --------------------------------------------------------------------------------- callback
class RunCallback(BaseCallback):
    """Budget, validation, checkpoints, threads per phase and the progress bar of a run."""

    def __init__(
        self,
        cfg: PPOConfig,
        run_dir: Path,
        split: Split,
        val: tuple[np.ndarray, np.ndarray | None],
        train_seconds: float,
        total_timesteps: int | None,
        eval_seconds: float = 0.0,
    ) -> None:
        super().__init__()
        self.cfg, self.run_dir, self.split, self.val = cfg, run_dir, split, val
        self.train_seconds = train_seconds
        self.eval_seconds = eval_seconds
        """Wall seconds of validation so far (the run's, across resumes)."""
        self.budget_s = None if cfg.minutes is None else 60.0 * cfg.minutes
        self.total_timesteps = total_timesteps
        self.bar = runs.RunProgress("ppo", False)
        self.last_val: dict[str, float] = {}
        self.best = read_best(run_dir)
        """The best validation so far (``best.json``; a resume carries it over)."""
        self.stage: Stage | None = None
        """The curriculum stage in training (logged as ``curriculum/*``); set by train_ppo."""

    # time accounting: training only (validation and checkpoints excluded)
    def elapsed(self) -> float:
        return self.train_seconds + (time.perf_counter() - self._t0)

    def _pause(self, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            return fn()
        finally:
            self._t0 += time.perf_counter() - start

    def fraction(self) -> float:
        if self.budget_s is not None:
            return min(1.0, self.elapsed() / self.budget_s)
        return min(1.0, self.num_timesteps / max(1, self.total_timesteps or 1))

    def _on_training_start(self) -> None:
        self._t0 = time.perf_counter()
        self._start_steps = self.num_timesteps
        self._last_eval = self.elapsed() if self.num_timesteps else -math.inf
        self._last_eval_steps = self.num_timesteps if self.num_timesteps else -1
        self._last_ckpt = time.perf_counter()
        self._first = True
        self.bar = runs.RunProgress("ppo", self.cfg.progress)
        if self.num_timesteps == 0:  # a fresh run: keep and validate the step-0 policy
            if not (self.run_dir / INIT_AGENT).exists():
                self._pause(lambda: _save_agent(self.model, self.run_dir, 0.0, 0.0, INIT_AGENT))
            self.validate()

    def _on_rollout_start(self) -> None:
        if not self._first:  # an update just finished: the agent is consistent here
            if self.validation_due():
                self.validate()
            if time.perf_counter() - self._last_ckpt >= self.cfg.checkpoint_seconds:
                self.checkpoint()
        self._first = False
        _threads(self.cfg.rollout_threads)

    def validation_due(self) -> bool:
        """Whether a validation is due at this rollout boundary: a multiple of
        ``eval_every_steps`` passed since the last one (a fresh run: at its first boundary), or
        ``eval_every_s`` seconds of training."""
        every = self.cfg.eval_every_steps
        if every is not None:
            return self.num_timesteps // every > self._last_eval_steps // every
        return self.elapsed() - self._last_eval >= (self.cfg.eval_every_s or 0.0)

    def _record_times(self) -> None:
        train_s = self.elapsed()
        self.logger.record("time/train_minutes", train_s / 60.0)
        self.logger.record("time/eval_minutes", self.eval_seconds / 60.0)
        total = train_s + self.eval_seconds
        if total > 0:
            self.logger.record("time/eval_fraction", self.eval_seconds / total)

    def _on_rollout_end(self) -> None:
        _threads(self.cfg.update_threads)
        self._record_times()
        session_s = time.perf_counter() - self._t0
        steps = self.num_timesteps - self._start_steps
        if session_s > 0:
            self.logger.record("time/sps_train", steps / max(session_s, 1e-9))
        self._record_stage()

    def _record_stage(self) -> None:
        if self.stage is not None and self.stage.size is not None:
            self.logger.record("curriculum/stage", self.stage.index)
            self.logger.record("curriculum/size", self.stage.size)

    def _on_step(self) -> bool:
        if self.n_calls % 16 == 0:
            status = f"{self.num_timesteps} steps"
            if "val/success_2x" in self.last_val:
                status += f"  val 2x-opt {self.last_val['val/success_2x']:.3f}"
            self.bar.update(self.fraction(), status)
        return self.budget_s is None or self.elapsed() < self.budget_s

    def validate(self) -> dict[str, float]:
        """Play the validation puzzles with deterministic actions, each episode cut once it has
        failed within 2x optimal, and log ``val/success_2x`` and ``val/length_ratio``."""

        def run() -> dict[str, float]:
            puzzles, solutions = self.val
            result = run_episodes(
                self.split.env_id,
                agent_act(self.model, deterministic=True),
                puzzles,
                solutions=solutions,
                env_kwargs=self.split.eval_env_kwargs,
                num_envs=even_waves(len(puzzles), VAL_WAVE),
                seed=0,
                max_length_ratio=HEADLINE_RATIO,
            )
            self.model.policy.set_training_mode(False)
            return {"val/success_2x": result.success_2x, "val/length_ratio": result.length_ratio}

        _threads(self.cfg.rollout_threads)
        start = time.perf_counter()
        values = self._pause(run)
        self.eval_seconds += time.perf_counter() - start
        for key, value in values.items():
            self.logger.record(key, value)
        # written now, at the env step it was made at (SB3 writes its own rows after the next
        # rollout); the update's train/* values recorded since the last row go with it
        self._record_times()
        self._record_stage()
        self.logger.record("time/total_timesteps", self.num_timesteps)
        self.logger.dump(self.num_timesteps)
        self.last_val = values
        self._last_eval = self.elapsed()
        self._last_eval_steps = self.num_timesteps
        score = values["val/success_2x"]
        if self.best is None or score >= self.best["val/success_2x"]:
            self._pause(lambda: self.save_best(score))
        self.bar.log(
            f"{self.num_timesteps} steps, {self.elapsed() / 60:.1f} min: "
            + "  ".join(f"{k} {v:.3f}" for k, v in values.items())
        )
        return values

    def save_best(self, score: float) -> None:
        """Keep the agent as the run's best (``agent_best.zip``, then ``best.json``)."""
        _save_agent(self.model, self.run_dir, self.elapsed(), self.eval_seconds, BEST_AGENT)
        self.best = {"val/success_2x": float(score), "timesteps": int(self.num_timesteps)}
        with atomic_write(self.run_dir / BEST) as f:
            json.dump(self.best, f)

    def checkpoint(self) -> None:
        """Replace ``agent.zip`` atomically (with the training seconds so far)."""
        self._pause(
            lambda: _save_agent(self.model, self.run_dir, self.elapsed(), self.eval_seconds)
        )
        self._last_ckpt = time.perf_counter()

    def _on_training_end(self) -> None:
        self.validate()
        self.checkpoint()
        self.bar.close()
        # a curriculum calls learn() once per stage: carry the training time over
        self.train_seconds, self._t0 = self.elapsed(), time.perf_counter()


# ---------------------------------------------------------------------------------- metrics
class WandbOutputFormat(KVWriter):
    """SB3 logger output that sends each dump (a ``metrics.csv`` row) to a W&B run, at the env
    step SB3 dumps it at; closing the logger finishes the W&B run."""

    def __init__(self, run: WandbRun) -> None:
        self.run = run

    def write(
        self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0
    ) -> None:
        self.run.log(key_values, step)

    def close(self) -> None:
        self.run.finish()


def make_logger(
    run_dir: Path, tensorboard: bool, resume_steps: int | None, wandb: WandbRun | None = None
) -> Logger:
    """SB3 logger writing ``metrics.csv`` (and TensorBoard, and W&B with ``wandb``) in the run
    directory.

    On resume the rows past the checkpoint are dropped, so the file reads like one run.
    """
    path = run_dir / METRICS
    kept: list[dict[str, str]] = []
    if resume_steps is not None and path.exists():
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                steps = row.get("time/total_timesteps") or ""
                if steps and float(steps) <= resume_steps:
                    kept.append(row)
    formats: list[Any] = [CSVOutputFormat(str(path))]
    for row in kept:  # replay through SB3's writer, which owns the file from here on
        values = {k: _number(v) for k, v in row.items() if v != ""}
        formats[0].write(values, {k: None for k in values}, int(float(row["time/total_timesteps"])))
    if tensorboard:
        formats.append(TensorBoardOutputFormat(str(run_dir)))
    if wandb is not None:
        formats.append(WandbOutputFormat(wandb))
    return Logger(folder=str(run_dir), output_formats=formats)


def _number(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


# ------------------------------------------------------------------------ evaluation sizes
def fit_eval_sizes(
    cfg: PPOConfig, allowed: np.ndarray | None = None
) -> tuple[PPOConfig, str | None]:
    """``cfg`` with concrete validation and test sizes, and a note when a default was reduced.

    An unset size is its default (:data:`~trm_rl.policies.config.DEFAULT_VAL_EPISODES`,
    :data:`~trm_rl.policies.config.DEFAULT_TEST_EPISODES`) when the env can hold the two out
    beside a training pool (generated mazes always can). When its fixed puzzle set cannot (a
    Sudoku pool or dataset, a maze file; with ``allowed``, only the puzzles whose solution is
    one of these grids may be evaluated), the unset sizes shrink so that the evaluation takes
    at most half the set and no more than fits: both unset, that room is split 1:5 like the
    defaults (at least one validation puzzle); one set, the other gets what is left of it (at
    least one). A size the user set is never changed: one that does not fit is refused.

    :param allowed: ``(K, N, N)`` Sudoku solutions evaluation is restricted to (see
        :func:`~trm_rl.policies.split.heldout_split`'s ``eval_solutions_from``).
    :return: the config, and the note (None when nothing was reduced).
    :raises ValueError: naming the puzzles available and the sizes that fit.
    """
    val_set, test_set = cfg.val_episodes is not None, cfg.test_episodes is not None
    val = DEFAULT_VAL_EPISODES if cfg.val_episodes is None else cfg.val_episodes
    test = DEFAULT_TEST_EPISODES if cfg.test_episodes is None else cfg.test_episodes
    room = heldout_room(
        cfg.env.id, cfg.env.kwargs, val + test, seed=0, eval_solutions_from=allowed,
        by=cfg.heldout_by,
    )  # fmt: skip
    note = None
    if room is not None and room.most < val + test:
        what = _room_words(room, cfg)
        if val_set and test_set:
            raise ValueError(
                f"--val-episodes {val} + --test-episodes {test} = {val + test:,} held-out "
                f"puzzles, but {what}: at most {room.most:,} can be held out beside a training "
                "pool; lower them (or leave them unset to fit the puzzles automatically)"
            )
        half = min(room.most, room.puzzles // 2)
        if not val_set and not test_set:
            val = max(
                1, half * DEFAULT_VAL_EPISODES // (DEFAULT_VAL_EPISODES + DEFAULT_TEST_EPISODES)
            )
            test = half - val
        elif val_set:
            test = min(test, max(1, half - val))
        else:
            val = min(val, max(1, half - test))
        if not val_set and not test_set and test < 1:
            raise ValueError(
                f"{what}: too few to hold out validation and test puzzles beside a training "
                "pool; use more puzzles (another dataset, or looser Sudoku --env.givens/--env.difficulty)"
            )
        if test < 1 or val + test > room.most:
            flag, given = ("--val-episodes", val) if val_set else ("--test-episodes", test)
            raise ValueError(
                f"{flag} {given} leaves no room for the other split: {what}, and at most "
                f"{room.most:,} can be held out beside a training pool; lower {flag} (or leave "
                "it unset)"
            )
        changes = ", ".join(
            f"--{name} {default} -> {new}"
            for name, given, default, new in (
                ("val-episodes", val_set, DEFAULT_VAL_EPISODES, val),
                ("test-episodes", test_set, DEFAULT_TEST_EPISODES, test),
            )
            if not given
        )
        note = (
            f"note: {what}: {changes} (defaults reduced to fit, leaving at least half the "
            f"puzzles to training; set --val-episodes/--test-episodes to choose, up to "
            f"{room.most:,} in all)"
        )
    return dataclasses.replace(cfg, val_episodes=val, test_episodes=test), note


def _room_words(room: HeldoutRoom, cfg: PPOConfig) -> str:
    """The puzzles a run can evaluate on, in words, for its note or error."""
    words = f"{room.source} has {room.puzzles:,} puzzles"
    if room.allowed < room.puzzles:
        by = f" by --init-from {cfg.init_from}" if cfg.init_from is not None else ""
        words += f", {room.allowed:,} of them evaluable (their solutions were held out{by})"
    return words


def _run_eval_sizes(cfg: PPOConfig, stored: PPOConfig) -> PPOConfig:
    """A resumed run's evaluation sizes: the run's where the command leaves them unset."""
    return dataclasses.replace(
        cfg,
        val_episodes=stored.val_episodes if cfg.val_episodes is None else cfg.val_episodes,
        test_episodes=stored.test_episodes if cfg.test_episodes is None else cfg.test_episodes,
    )


# ------------------------------------------------------------------------------------ train
def timesteps_done(run_dir: str | Path) -> int:
    """Env steps a PPO run has checkpointed (0 without ``agent.zip``); reads only the plain
    counters of the file."""
    path = Path(run_dir) / AGENT
    return int(read_agent_file(path).data.get("num_timesteps", 0)) if path.exists() else 0


def train_ppo(cfg: PPOConfig) -> Path:
    """Train (or resume) a PPO run as configured; returns the run directory.

    :raises ValueError: for an existing run without ``--resume``, a resume whose options
        differ, a finished run, or any bad option (named).
    """
    run_dir = Path(cfg.out)
    check_wandb(cfg.wandb)
    runs.check_fresh(run_dir, cfg.resume, (run_dir / AGENT).exists())
    resuming = cfg.resume and (run_dir / AGENT).exists()
    stored: dict[str, Any] = {}
    if cfg.resume:
        stored = read_ppo_config(run_dir)
        stored_cfg = stored_ppo_config(stored)
        cfg = _run_eval_sizes(cfg, stored_cfg)
        runs.check_resume(stored_cfg.to_dict(), cfg.to_dict(), "ppo")
        if cfg.curriculum and stored_cfg.timesteps != cfg.timesteps:
            raise ValueError(
                f"--curriculum splits --timesteps into its stages; this run has "
                f"--timesteps {stored_cfg.timesteps}: resume it with that budget (or start a new run)"
            )
    device = resolve_device(cfg.device)
    set_seed(cfg.seed)
    _threads(cfg.rollout_threads)
    # A policy initialised from a supervised run is evaluated only on puzzles whose solution
    # that run held out (Sudoku; maze streams are endless, see supervised_heldout_solutions).
    allowed = None
    if cfg.init_from is not None and cfg.game == "sudoku":
        allowed = supervised_heldout_solutions(cfg.init_from)
    cfg, note = fit_eval_sizes(cfg, allowed)
    if note is not None:
        print(note, file=sys.stderr)
    note = note or stored.get("heldout_note")  # a resume keeps the run's note
    run_dir.mkdir(parents=True, exist_ok=True)
    n_val, n_test = int(cfg.val_episodes or 0), int(cfg.test_episodes or 0)
    split = heldout_split(
        cfg.env.id,
        cfg.env.kwargs,
        n_val + n_test,
        seed=0,
        workdir=run_dir / "data",
        eval_solutions_from=allowed,
        by=cfg.heldout_by,
    )
    val = (
        split.eval_puzzles[:n_val],
        None if split.eval_solutions is None else split.eval_solutions[:n_val],
    )
    if not (run_dir / HELDOUT).exists():
        arrays = {
            "val_puzzles": val[0],
            "test_puzzles": split.eval_puzzles[n_val:],
        }
        if split.eval_solutions is not None:
            arrays["val_solutions"] = val[1]  # type: ignore[assignment]
            arrays["test_solutions"] = split.eval_solutions[n_val:]
        atomic_write_file(run_dir / HELDOUT, lambda tmp: np.savez_compressed(tmp, **arrays))
    venv = make_sb3_vec_env(cfg.env.id, cfg.ppo.n_envs, seed=cfg.seed, **split.train_env_kwargs)
    eval_seconds = 0.0
    if resuming:
        agent = load_agent(run_dir, device=str(device), env=venv)
        train_seconds = float(getattr(agent, "trm_train_seconds", 0.0))
        eval_seconds = float(read_agent_file(run_dir / AGENT).data.get(EVAL_SECONDS, 0.0))
        if cfg.timesteps is not None:
            runs.refuse_finished(agent.num_timesteps >= cfg.timesteps, f"{cfg.timesteps} env steps")
    else:
        agent, info = build_agent(cfg, venv, device)
        train_seconds = 0.0
        runs.write_config(
            run_dir, "ppo", cfg.to_dict(),
            ppo=cfg.ppo.sb3_kwargs(),
            train_env_kwargs=_jsonable_kwargs(split.train_env_kwargs),
            eval_env_kwargs=_jsonable_kwargs(split.eval_env_kwargs),
            heldout_by=cfg.heldout_by,
            **({"heldout_note": note} if note is not None else {}),
            **info,
        )  # fmt: skip
    if cfg.compile and hasattr(agent.policy, "trm"):
        agent.policy.trm.compile_network()
    wandb = open_wandb(cfg.wandb, run_dir, cfg.to_dict(), cfg.wandb_project, "ppo")
    agent.set_logger(
        make_logger(run_dir, cfg.tensorboard, agent.num_timesteps if resuming else None, wandb)
    )
    remaining = None if cfg.timesteps is None else max(0, cfg.timesteps - agent.num_timesteps)
    callback = RunCallback(cfg, run_dir, split, val, train_seconds, cfg.timesteps, eval_seconds)
    if remaining == 0:
        return run_dir
    stages = curriculum_stages(cfg)
    fresh = not resuming  # SB3 resets its counters on the first learn() of a fresh run only
    try:
        for stage in stages[stage_at(stages, agent.num_timesteps).index :]:
            if stage.size is not None:
                venv.close()
                kwargs = {**split.train_env_kwargs, "size": stage.size}
                venv = make_sb3_vec_env(cfg.env.id, cfg.ppo.n_envs, seed=cfg.seed, **kwargs)
                train_on(agent, venv)
            callback.stage = stage
            end = stage.end if stage.end is not None else cfg.timesteps
            agent.learn(
                total_timesteps=10**12 if end is None else end - agent.num_timesteps,
                callback=callback,
                reset_num_timesteps=fresh,
            )
            fresh = False
    finally:
        venv.close()
        agent.logger.close()
    return run_dir


def _jsonable_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in kwargs.items()}


# --------------------------------------------------------------------------------- evaluate
def evaluate_ppo(
    run_dir: str | Path,
    env: str | None = None,
    puzzles: str | Path | None = None,
    episodes: int = 1000,
    device: str = "auto",
    seed: int = 0,
    *,
    max_steps: int | None = None,
    stochastic: bool = True,
    halt_thresholds: tuple[float, ...] = (),
    confidence_thresholds: tuple[float, ...] = (),
    fixed_rounds: tuple[int, ...] = (),
    max_length_ratio: float | None = None,
    checkpoint: str = "last",
    threads: int | None = 1,
) -> dict[str, Any]:
    """Score a PPO run on held-out puzzles, beside a uniform random legal policy and the oracle.

    :param run_dir: the run's ``--out`` folder.
    :param env: env id to play (default: the run's); another size of the same game works for
        size-agnostic policies (TRM with mixer='conv', the conv baseline).
    :param puzzles: a CSV of puzzles to play instead (Maze-Hard or Sudoku format).
    :param episodes: puzzles to play (the first N of the run's test split, or of a fresh
        held-out split of ``env``).
    :return: JSON-ready dict: ``deterministic`` and ``stochastic`` (the policy), ``random``,
        ``oracle`` (each: episodes, success, success_2x, length_ratio, ..., and
        ``outcomes_2x``, one ``0``/``1`` per puzzle in play order: success within 2x optimal,
        None when ``max_length_ratio`` < 2 leaves it unknown), and the setup, with
        ``puzzles_sha1``, a fingerprint of the puzzles played
        (:mod:`trm_rl.policies.paired`). ``trm-carry`` results add ``think_steps`` (mean TRM
        rounds per action; on mazes also ``think_steps_by_moves``, the mean rounds and the
        actions by the agent cell's legal moves: 1 a dead end, 2 a corridor, 3-4 a junction);
        with ACT thinking time, ``deterministic_full_thinking`` is the same
        policy thinking ``think_rounds`` rounds at every step (the compute the halting head
        saves). ``paired``: every other policy variant (not random or oracle) against
        ``deterministic`` by McNemar's test on the same puzzles, ``{variant: {"vs", "b", "c",
        "n", "p_value", "difference"}}`` (:func:`~trm_rl.policies.paired.paired_entry`); None
        when the outcomes are unknown.
    :param max_steps: cap on episode length for every policy (default: the env's).
    :param stochastic: also play the policy with sampled actions.
    :param halt_thresholds: ``trm-carry`` with ACT thinking time: also play greedily with each
        of these halting thresholds (``deterministic_halt_<t>``: stop once ``sigmoid(q_halt)``
        exceeds ``t``), the thinking-time curve.
    :param confidence_thresholds: ``trm-carry`` with ACT thinking time: also play greedily
        halting by confidence (``deterministic_confidence_<t>``: stop once the most likely
        legal action has probability ``>= t``; the halting head is not asked).
    :param fixed_rounds: ``trm-carry`` with ACT thinking time: also play greedily thinking
        exactly this many rounds at every step (``deterministic_rounds_<k>``), at most
        ``think_rounds``.
    :param max_length_ratio: cut every episode as a failure after ``floor(ratio x optimal)``
        steps (>= 2 keeps ``success_2x`` exact; ``success`` is then success within the cap, and
        each result's ``max_length_ratio`` says so). Default None: each policy plays once to
        the env's step limit, which decides both ``success_2x`` (the same as a 2x-capped play)
        and plain ``success``.
    :param checkpoint: the agent to play: ``"last"`` (``agent.zip``), ``"best"``
        (``agent_best.zip``, chosen on validation; the report's ``train_timesteps`` is then the
        env step it was kept at) or ``"init"`` (``agent_init.zip``, the step-0 policy, e.g. a
        supervised init before PPO: ``compare-ppo`` tests it against the fine-tuned one).
    :param threads: torch threads while playing (None: torch's default, one per core),
        restored on return. The policy acts on at most 64 envs at a time, batches too small for
        a second thread to pay, and on a CPU busy with other work two threads waited on each
        other: 9x9 mazes with a ``trm-carry`` policy played several times slower with 2 threads
        than with 1 (``benchmarks/eval_throughput.py --threads``).
    """
    check_int("threads", threads, low=1, allow_none=True)
    run_dir = Path(run_dir)
    config = read_ppo_config(run_dir)
    cfg = stored_ppo_config(config)
    env_id = env or cfg.env.id
    eval_kwargs = dict(config["eval_env_kwargs"])
    if env_id != cfg.env.id:
        other = make_env_spec(env_id, {})
        if other.game != cfg.game:
            raise ValueError(f"{env_id!r} is not a {cfg.game} env; the run plays {cfg.game}")
        eval_kwargs = {k: v for k, v in eval_kwargs.items() if k not in ("size", "dataset")}
    agent = load_agent(run_dir, device=device, checkpoint=checkpoint)
    if puzzles is not None:
        size = _grid_side(env_id, eval_kwargs)
        board, solutions = _read_puzzle_csv(Path(puzzles), cfg.game, size)
        source = str(puzzles)
    elif env_id == cfg.env.id:
        held = load_heldout(run_dir)
        board, solutions = held["test_puzzles"], held.get("test_solutions")
        source = "the run's test split"
    else:
        # The run never trained on this env: any of its puzzles is unseen (no pool to avoid).
        split = heldout_split(
            env_id, eval_kwargs, episodes, seed=1, train_pool_size=1, workdir=run_dir / "data"
        )
        board, solutions = split.eval_puzzles, split.eval_solutions
        source = f"{episodes} fresh puzzles of {env_id}"
    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    if max_steps is not None:
        eval_kwargs["max_steps"] = check_int("--max-steps", max_steps, low=1)
    ratio = check_length_ratio(max_length_ratio)
    board = board[:episodes]
    solutions = None if solutions is None else solutions[:episodes]
    common = {"solutions": solutions, "env_kwargs": eval_kwargs, "num_envs": 64, "seed": seed,
              "max_length_ratio": ratio}  # fmt: skip
    torch.manual_seed(seed)
    report: dict[str, Any] = {
        "run": str(run_dir),
        "env": env_id,
        "policy": cfg.policy,
        "puzzles": source,
        PUZZLES_KEY: puzzles_sha1(board),
        "checkpoint": checkpoint,
        "train_timesteps": int(agent.num_timesteps),
        "train_minutes": float(getattr(agent, "trm_train_seconds", 0.0)) / 60.0,
        "max_steps": max_steps,
        "max_length_ratio": ratio,
    }
    think_rounds = getattr(agent.policy, "think_rounds", None)
    if (halt_thresholds or confidence_thresholds or fixed_rounds) and think_rounds is None:
        raise ValueError(
            "--halt-thresholds/--confidence-thresholds/--fixed-rounds need a trm-carry run "
            "with ACT thinking time (trained with --think-rounds N)"
        )
    for rounds in fixed_rounds:
        check_int("--fixed-rounds", rounds, low=1, high=think_rounds)
    for flag, values in (("--halt-thresholds", halt_thresholds),
                         ("--confidence-thresholds", confidence_thresholds)):  # fmt: skip
        for t in values:
            if not isinstance(t, int | float) or not 0.0 < float(t) < 1.0:
                raise ValueError(f"{flag} must be probabilities in (0, 1), got {t!r}")
    # name -> (greedy, adaptive, threshold, halt_by, rounds cap)
    Variant = tuple[bool, bool | None, float | None, str | None, int | None]
    variants: dict[str, Variant] = {"deterministic": (True, None, None, None, None)}
    if stochastic:
        variants["stochastic"] = (False, None, None, None, None)
    if think_rounds is not None:
        # ACT thinking time: the same policy thinking every step to think_rounds, beside it
        variants["deterministic_full_thinking"] = (True, False, None, None, None)
    for t in halt_thresholds:
        variants[f"deterministic_halt_{t:g}"] = (True, None, t, "head", None)
    for t in confidence_thresholds:
        variants[f"deterministic_confidence_{t:g}"] = (True, None, t, "confidence", None)
    for k in fixed_rounds:
        variants[f"deterministic_rounds_{k}"] = (True, False, None, None, k)

    def scored(act: Any) -> dict[str, Any]:
        """Play ``act`` once on every puzzle: the summary and its per-puzzle outcomes."""
        with torch_threads(threads):
            stats = play_episodes(env_id, act, board, **common)
        within_2x = stats.success_2x()
        outcomes = None if within_2x is None else outcomes_text(within_2x)
        return {**stats.summary().to_dict(), OUTCOMES_KEY: outcomes}

    for name, (greedy, adaptive, threshold, halt_by, rounds_cap) in variants.items():
        with _think_rounds(agent.policy, rounds_cap):
            act = agent_act(
                agent, greedy, adaptive=adaptive, halt_threshold=threshold, halt_by=halt_by
            )
            report[name] = scored(act)
        rounds, actions = getattr(act, "think_steps", (0, 0))
        if actions:
            report[name]["think_steps"] = rounds / actions
        by_moves = getattr(act, "think_by_moves", None)
        if by_moves:  # mazes: mean rounds and actions by the agent cell's legal moves
            report[name]["think_steps_by_moves"] = {
                str(k): {"think_steps": r / n, "actions": n}
                for k, (r, n) in sorted(by_moves.items())
            }
    report["random"] = scored(random_policy(seed))
    oracle = oracle_policy(
        env_id, puzzles=None if solutions is None else board, solutions=solutions
    )
    report["oracle"] = scored(oracle)
    # McNemar of every other policy variant against the greedy policy, on the same puzzles
    reference = report["deterministic"][OUTCOMES_KEY]
    others = [name for name in variants if name != "deterministic"]
    report["paired"] = None
    if reference is not None:
        report["paired"] = {
            name: paired_entry(reference, report[name][OUTCOMES_KEY], "deterministic")
            for name in others
        }
    return report


@contextmanager
def _think_rounds(policy: Any, rounds: int | None) -> Iterator[None]:
    """Within the block, a ``trm-carry`` policy thinks up to ``rounds`` rounds (None: as is)."""
    if rounds is None:
        yield
        return
    saved = policy.think_rounds
    policy.think_rounds = rounds
    try:
        yield
    finally:
        policy.think_rounds = saved


def _read_puzzle_csv(path: Path, game: str, size: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Puzzles (and Sudoku solutions) of a Maze-Hard- or Sudoku-Extreme-format CSV."""
    if not path.exists():
        raise ValueError(f"--puzzles {str(path)!r} does not exist")
    if game == "maze":
        mazes = read_maze_csv(path)
        shapes = sorted({p.grid.shape for p in mazes})
        if len(shapes) != 1 or shapes[0] != (size, size):
            raise ValueError(
                f"--puzzles {str(path)!r} holds mazes of shape(s) {shapes}; this env plays "
                f"{size}x{size} mazes: pass --env with that size (or a file of that size)"
            )
        return np.stack([p.grid for p in mazes]), None
    return read_sudoku_csv(path, size)


def _grid_side(env_id: str, kwargs: dict[str, Any]) -> int:
    """Rows of the observation grid of ``gym.make(env_id, **kwargs)``."""
    env_config_class(env_id)  # a clear error for an unknown id
    env = gym.make(env_id, **kwargs)
    try:
        return int(env.observation_space["grid"].shape[0])
    finally:
        env.close()


__all__ = [
    "AGENT",
    "HELDOUT",
    "RunCallback",
    "Stage",
    "WandbOutputFormat",
    "curriculum_stages",
    "evaluate_ppo",
    "fit_eval_sizes",
    "load_agent",
    "load_heldout",
    "read_ppo_config",
    "stage_at",
    "stored_ppo_config",
    "timesteps_done",
    "train_on",
    "train_ppo",
]
