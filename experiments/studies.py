"""The studies of the project as data: each one expands a preset into the runs of a sweep.

A study is a base config x a grid x seeds. Every run is a :class:`RunSpec`: its labels in the
tidy CSVs (``task``, ``variant``, ``group``, ``K``, ``seed``), the fields of the
:class:`~trm_rl.supervised.config.TrainConfig` or :class:`~trm_rl.policies.config.PPOConfig`
that train it (``out``, ``resume``, ``progress`` and the thread counts are set by the runner),
and how it is evaluated. ``experiments/sweep.py`` runs them.

Studies (``trm-rl sweep STUDY --preset P``). Budgets are optimiser steps (supervised) or env
steps (PPO), the same for every variant of a task, so a busy machine changes how long a study
takes, not what it finds; minutes are recorded beside steps and FLOPs. Supervised runs are
validated ``keep_points`` times and keep a snapshot each time; the sweep scores the snapshot
with the best validation score on the test split (and the last weights beside it).

- ``k_cycles``: the TRM with K = H_cycles rounds per supervision step (L_cycles fixed) against
  the controls of :func:`_controls`: the same network applied once (one supervision step,
  H_cycles = L_cycles = 1; what "recursion helps" is measured against), an untied network as
  deep as one TRM supervision step, a DT-recall recurrent conv net, the conv net and the MLP,
  the baselines matched in parameters.
- ``think_longer``: conv-mixer TRM, DT-recall and conv net trained on 11x11 mazes, scored on
  15x15, 21x21, 31x31 and Maze-Hard with supervision steps scaled with the cells. Its cpu-full
  runs train exactly as k_cycles cpu-full's maze runs ``sup-maze-11x11-trm-K2-s*``,
  ``-dtnet-s*`` and ``-conv-s*``, only scored on more targets: the sweep copies those when they
  are finished and on disk instead of training them again (``experiments/reuse.py``).
- ``ablations``: one change at a time to the recipe's TRM. Supervised: ACT, EMA, SwiGLU -> ReLU,
  the other token mixers, single_z, separate_networks, full_backprop. PPO: the carry across env
  steps, ACT thinking time (with the carry), reward shaping (mazes).

Presets:

- ``cpu-quick`` (k_cycles, the README's main job): 4x4 Sudoku, the recipe's TRM (H2/L2) against
  the no-recursion control and the MLP, 3 seeds, 600 steps, 10 validation points, 1000 test
  puzzles; about 5 minutes with 2 workers on 2 cores.
- ``cpu-full``: 5 seeds. k_cycles: 11x11 mazes (scored also on 15x15 and 21x21) and 6x6 Sudoku,
  2000 steps, K in {1, 2, 3} and the five controls: 80 runs, about 16 CPU-hours (8-12 hours
  with 2 workers on 2 cores; ``--dry-run`` prints the estimate). The sweep resumes, also from a
  fresh clone, since git keeps each finished run's ``result.json``, so it may span several
  sessions; think_longer: 15 runs, reusing the k_cycles maze runs when their weights are on
  disk (git keeps only their ``result.json``, so on a fresh clone it trains them); ablations:
  140 runs (about 47 CPU-hours).
- ``cpu-core`` (ablations): the paper's ablations (single_z, separate_networks, full_backprop,
  EMA off) of the 11x11 maze TRM, 5 seeds, 2000 steps, the base runs reused from k_cycles
  cpu-full: 25 runs, 20 to train, about 6 CPU-hours.
- ``cpu-ppo`` (k_cycles, PPO from scratch): the TRM policy with K in {1, 2, 3}, ``trm-carry``,
  the no-recursion control (H1/L1, one step per action), the conv net and the MLP policies on
  7x7 mazes whose wall layouts no training maze has, 100k env steps each, 5 seeds, 1,000 test
  mazes with random and oracle beside them; the agent of the best validation is scored, the
  last beside it. 35 runs, in ``results/k_cycles-ppo``. ablations ``cpu-ppo``: the same task and
  scale, the TRM policy with the carry (``trm-carry``), the carry with the recipe's 4 PPO epochs
  instead of its default 1, the carry with ACT thinking time (up to 4 rounds per step) and
  without reward shaping; 25 runs, in ``results/ablations-ppo``, of which
  the base and the carry runs are the identical k_cycles cpu-ppo runs, reused when on disk.
- ``cpu-ppo-1m`` (k_cycles): a one-seed pilot of cpu-ppo's task at 1M env steps (the size the
  from-scratch target is set at): TRM H1/L3, the network applied once, the conv net and the
  MLP; 4 runs, in ``results/k_cycles-ppo-1m``, about 5 CPU-hours.
- ``gpu-paper``: the paper's models (``paper-sudoku-mlp``, ``paper-maze-att``) on
  Sudoku-Extreme and Maze-Hard (PPO: 9x9 Sudoku, 15x15 mazes), device auto, bfloat16, 20k
  steps (PPO: 1M env steps), full evaluations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from trm_rl.data.build import grid_info
from trm_rl.data.config import DataConfig
from trm_rl.policies.config import PPOConfig, PPOSettings, make_env_spec, ppo_args, resolve_ppo
from trm_rl.supervised.config import (
    OptimConfig,
    TrainConfig,
    fit_model,
    resolve_train,
    train_args,
)

Regime = Literal["supervised", "ppo"]
REGIMES: tuple[str, ...] = ("supervised", "ppo")
#: The config class of each regime.
CONFIG_CLASSES: dict[str, type] = {"supervised": TrainConfig, "ppo": PPOConfig}
#: Run names: letters, digits and dashes (they name folders and CSV rows).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")


@dataclass(frozen=True)
class RunSpec:
    """One run of a study: what trains it, how it is evaluated and its labels in the CSVs."""

    study: str
    """Name of the study (the ``study`` column)."""
    name: str
    """Unique within the study and filesystem-safe, e.g. ``ppo-maze-9x9-trm-K3-s0``; the run
    directory is ``<study dir>/<name>``."""
    regime: Regime
    """'supervised' (trm-rl train-supervised) or 'ppo' (trm-rl train-ppo)."""
    task: str
    """What it is trained and scored on, e.g. maze-9x9, sudoku-4x4."""
    variant: str
    """Display label of the model, e.g. 'TRM H3/L3', 'MLP', 'conv net'."""
    group: str
    """The grid value it stands for, e.g. 'K=3', 'ema=off'."""
    K: int | None
    """H_cycles of a TRM whose K the study varies (None: a baseline, or K is not the variable)."""
    seed: int
    """Seed of the run."""
    config: TrainConfig | PPOConfig = field(hash=False)
    """The resolved config that trains it; ``out``, ``resume``, ``progress`` and the thread
    counts are set by the runner."""
    also: tuple[tuple[str, int | None], ...] = ()
    """Other data to score the trained run on: (data name, puzzle limit) for supervised runs
    (e.g. ('maze-31x31', 64)), (env id, episodes) for PPO runs."""
    eval_episodes: int = 200
    """PPO: test puzzles played by evaluate-ppo. Supervised: test puzzles also played in the
    Gymnasium env (0: none)."""
    eval_limit: int | None = None
    """Supervised: score only the first N puzzles of the test split (None: all of it)."""
    eval_steps_per_cell: float | None = None
    """PPO on mazes: cap evaluation episodes at this many steps per cell (None: the env's
    4 x cells). A cap of at least twice the optimal length leaves success within 2x optimal
    unchanged (the optimal length of a maze is below half its cells) and saves the time a
    failing policy spends walking to the env's cap."""
    eval_stochastic: bool = False
    """PPO: also play the policy with sampled actions (doubles the policy's evaluation time)."""
    est_minutes: float = 1.0
    """Estimated wall minutes of the whole run on one core: training, validation, evaluation."""
    flops_budget: float | None = None
    """Supervised: the task's training-FLOP budget of the equal-FLOPs comparison
    (:mod:`experiments.equal_flops`), set by the sweep from its whole plan; the run scores its
    snapshot at that budget as soon as it has trained (None: no equal-FLOPs score)."""

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise ValueError(
                f"run name {self.name!r} must be letters, digits and dashes (it names "
                "a folder and CSV rows); rename it in experiments/studies.py"
            )
        if self.regime not in REGIMES:
            raise ValueError(f"regime must be one of {list(REGIMES)}, got {self.regime!r}")
        if not isinstance(self.config, CONFIG_CLASSES[self.regime]):
            raise ValueError(
                f"run {self.name}: a {self.regime} run needs a "
                f"{CONFIG_CLASSES[self.regime].__name__}, got {type(self.config).__name__}"
            )

    @property
    def budget(self) -> str:
        """The training budget as text: ``3.5 min``, ``200 steps``."""
        if self.config.minutes is not None:
            return f"{self.config.minutes:g} min"
        if isinstance(self.config, TrainConfig):
            return f"{self.config.steps} steps"
        return f"{self.config.timesteps} env steps"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (:meth:`from_dict` reads it back)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "config"}
        data["config"] = self.config.to_dict()
        return json.loads(json.dumps(data))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        """Build from :meth:`to_dict` output (lists back to tuples, the config typed)."""
        data = dict(data)
        data["also"] = tuple((str(t), n) for t, n in data.get("also", ()))
        data["config"] = CONFIG_CLASSES[data["regime"]].from_dict(data["config"])
        return cls(**data)


@dataclass(frozen=True)
class Study:
    """A named study: a description and, per preset, a function that lists its runs."""

    name: str
    description: str
    presets: Mapping[str, Callable[[], list[RunSpec]]]
    outs: Mapping[str, str] = field(default_factory=dict)
    """The study directory of a preset that does not write to ``results/<study>``."""

    def default_out(self, preset: str) -> Path:
        """Where ``trm-rl sweep STUDY --preset PRESET`` writes without ``--out``."""
        return Path(self.outs.get(preset, f"results/{self.name}"))

    def expand(self, preset: str) -> list[RunSpec]:
        """The runs of ``preset``.

        :raises ValueError: for an unknown preset (listing this study's), or duplicate names.
        """
        if preset not in self.presets:
            raise ValueError(
                f"study {self.name!r} has no preset {preset!r}; choose one of {list(self.presets)}"
            )
        specs = self.presets[preset]()
        names = [s.name for s in specs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"study {self.name!r} names several runs {duplicates}; rename them")
        return specs


# --------------------------------------------------------------------------- preset scales
@dataclass(frozen=True)
class Scale:
    """How big a preset makes every run: seeds, evaluation sizes, device and options."""

    seeds: tuple[int, ...]
    sup_options: dict[str, Any]
    """Extra TrainArgs fields (e.g. bf16; OptimConfig fields go to the optimiser)."""
    ppo_options: dict[str, Any]
    """Extra PPOArgs fields (e.g. val_episodes; PPOSettings fields go to PPO)."""
    eval_episodes: int
    eval_limit: int | None
    eval_steps_per_cell: float | None
    eval_stochastic: bool
    keep_points: int = 10
    """Supervised runs are validated and keep a snapshot this many times over their budget."""
    overhead: float = 0.5
    """Estimated minutes of a run besides its training (startup, evaluation)."""


_CPU = {"device": "cpu"}
QUICK = Scale(
    seeds=(0, 1, 2),
    sup_options=_CPU,
    ppo_options={**_CPU, "n_envs": 16, "n_steps": 32, "batch_size": 256, "val_episodes": 50,
                 "test_episodes": 100},
    eval_episodes=0,
    eval_limit=1000,
    eval_steps_per_cell=1.0,
    eval_stochastic=False,
    overhead=0.3,
)  # fmt: skip
FULL = Scale(
    seeds=(0, 1, 2, 3, 4),
    sup_options=_CPU,
    ppo_options={**_CPU, "val_episodes": 64, "test_episodes": 1000},
    eval_episodes=100,
    eval_limit=1000,
    eval_steps_per_cell=1.0,
    eval_stochastic=True,
    overhead=1.5,
)
#: PPO studies on a CPU: 5 seeds, every policy tested on 1,000 held-out puzzles.
PPO_CPU = replace(FULL, eval_episodes=1000, overhead=3.0)
PAPER = Scale(
    seeds=(0, 1, 2, 3, 4),
    # The paper's optimiser (lr 1e-4, weight decay 1.0, 2000 warm-up steps) at a batch that two
    # runs sharing one GPU can hold (the paper: 768).
    sup_options={"device": "auto", "bf16": True, "batch_size": 256, "lr": 1e-4,
                 "weight_decay": 1.0, "warmup_steps": 2000},
    ppo_options={"device": "auto"},
    eval_episodes=1000,
    eval_limit=None,
    eval_steps_per_cell=None,
    eval_stochastic=True,
    overhead=5.0,
)  # fmt: skip


@dataclass(frozen=True)
class Task:
    """A task of one regime: its name in the CSVs, what trains on it and its budget."""

    name: str
    regime: Regime
    source: str
    """Supervised: the data name; PPO: the env id."""
    steps: int
    """Budget: optimiser steps (supervised) or env steps (PPO), the same for every variant."""
    step_seconds: float
    """Measured seconds of one step of the recipe's TRM on one core (for the ETA only)."""
    preset: str | None = None
    """The TRM preset (None: the recipe's)."""
    also: tuple[tuple[str, int | None], ...] = ()
    """Other data scored with the chosen checkpoint: (data name or env id, puzzle limit)."""


_OPTIM_FIELDS = {f.name for f in fields(OptimConfig)}
_PPO_FIELDS = {f.name for f in fields(PPOSettings)}
_BASES: dict[tuple[Task, str, str], TrainConfig | PPOConfig] = {}


def _base(task: Task, scale: Scale, policy: str = "trm") -> TrainConfig | PPOConfig:
    """The config the recipe trains on ``task`` at ``scale`` (seed 0), resolved once."""
    key = (task, repr(scale), policy)
    if key not in _BASES:
        _BASES[key] = _resolve(task, scale, policy)
    return _BASES[key]


def _resolve(task: Task, scale: Scale, policy: str) -> TrainConfig | PPOConfig:
    model = {} if task.preset is None else {"preset": task.preset}
    if task.regime == "supervised":
        options = dict(scale.sup_options)
        optim = {k: options.pop(k) for k in list(options) if k in _OPTIM_FIELDS}
        every = max(1, task.steps // scale.keep_points)
        args = train_args(task.source, steps=task.steps, model=model, optim=optim,
                          eval_every=every, keep_every=every, **options)  # fmt: skip
        return resolve_train(args)
    options = dict(scale.ppo_options)
    ppo = {k: options.pop(k) for k in list(options) if k in _PPO_FIELDS}
    args = ppo_args(task.source, timesteps=task.steps, model=model, ppo=ppo,
                    policy=policy, **options)  # fmt: skip
    return resolve_ppo(args)


def _cost(model: Any, base: Any) -> float:
    """Rough cost of one step of ``model`` relative to the recipe's TRM ``base`` (ETA only)."""
    calls = getattr(model, "net_calls_per_step", None)
    if calls is None:
        return 0.3  # one-shot and recurrent conv baselines: cheap steps
    return calls * model.num_layers / (base.net_calls_per_step * base.num_layers)


def _spec(
    study: str,
    task: Task,
    scale: Scale,
    slug: str,
    variant: str,
    group: str,
    seed: int,
    k: int | None = None,
    model: Any = None,
    policy: str = "trm",
    **changes: Any,
) -> RunSpec:
    """A run of ``task`` at ``scale``: the task's resolved config with ``seed``, the model
    ``model`` (a config, or a dict of fields changed on the task's TRM), ``policy`` (PPO) and
    the other fields in ``changes`` (dataclasses.replace)."""
    sup = task.regime == "supervised"
    base = _base(task, scale, "trm" if sup else policy)
    if isinstance(model, Mapping):
        model = base.model.replace(**model)
    config = replace(base, seed=seed, model=model or base.model, **changes)
    minutes = task.steps * task.step_seconds * _cost(config.model, base.model) / 60
    if not sup:  # PPO: the baseline policies' env steps cost little beside the env's
        trm_base = _base(task, scale, "trm").model
        cost = 0.05 if policy in ("mlp", "convnet") else _cost(config.model, trm_base)
        minutes = task.steps * task.step_seconds * cost / 60
    return RunSpec(
        study=study,
        name=f"{'sup' if sup else 'ppo'}-{task.name}-{slug}-s{seed}",
        regime=task.regime,
        task=task.name,
        variant=variant,
        group=group,
        K=k,
        seed=seed,
        config=config,
        also=task.also,
        eval_episodes=scale.eval_episodes,
        eval_limit=scale.eval_limit if sup else None,
        eval_steps_per_cell=None if sup else scale.eval_steps_per_cell,
        eval_stochastic=False if sup else scale.eval_stochastic,
        est_minutes=round(minutes + scale.overhead, 2),
    )


def _baseline_model(task: Task, scale: Scale, kind: str) -> Any:
    """A supervised baseline of ``kind`` matched in parameters to the task's TRM."""
    config = _base(task, scale)
    grid = grid_info(config.data)
    return fit_model(kind, config.model, {}, grid.vocab_size, grid.cells, grid.cols)


def _controls(task: Task, scale: Scale, kinds: tuple[str, ...]) -> list[tuple[str, str, Any]]:
    """(slug, label, model) of the controls a recursion result is measured against.

    - ``once``: the same network applied once (one supervision step, H_cycles=1, L_cycles=1):
      what "recursion helps" is measured against;
    - ``untied``: as many distinct layers as one supervision step of the TRM applies (its
      effective depth), no weight sharing, applied once;
    - ``dtnet``: a weight-tied recurrent conv net with recall and progressive training
      (DT-recall style), matched in parameters;
    - ``convnet`` / ``mlp``: the residual conv net and the MLP matched in parameters.
    """
    base = _base(task, scale).model
    once = {"H_cycles": 1, "L_cycles": 1, "halt_max_steps": 1}
    depth = base.effective_depth
    out = []
    for kind in kinds:
        if kind == "once":
            out.append(("once", "TRM once (no recursion)", base.replace(**once)))
        elif kind == "untied":
            layers = max(1, depth // 2)  # H1/L1 applies the network twice
            label = f"untied, {2 * layers} layers"
            out.append(("untied", label, base.replace(num_layers=layers, **once)))
        else:
            label = {"mlp": "MLP", "convnet": "conv net", "dtnet": "DT-recall"}[kind]
            slug = {"mlp": "mlp", "convnet": "conv", "dtnet": "dtnet"}[kind]
            out.append((slug, label, _baseline_model(task, scale, kind)))
    return out


# ------------------------------------------------------------------------------- k_cycles
def _k_cycles(
    tasks: tuple[Task, ...],
    scale: Scale,
    ks: tuple[int, ...],
    controls: tuple[str, ...],
    double_l_at: int | None,
    ppo_controls: tuple[str, ...] = ("mlp", "convnet"),
) -> list[RunSpec]:
    specs = []
    for task in tasks:
        base = _base(task, scale).model
        sup = task.regime == "supervised"
        for seed in scale.seeds:
            for k in ks:
                label = f"TRM H{k}/L{base.L_cycles}"
                specs.append(
                    _spec("k_cycles", task, scale, f"trm-K{k}", label, f"K={k}", seed, k,
                          {"H_cycles": k})
                )  # fmt: skip
            if double_l_at is not None:
                k, n = double_l_at, 2 * base.L_cycles
                specs.append(
                    _spec("k_cycles", task, scale, f"trm-K{k}-L{n}", f"TRM H{k}/L{n}", f"L={n}",
                          seed, k, {"H_cycles": k, "L_cycles": n})
                )  # fmt: skip
            if sup:
                for slug, label, model in _controls(task, scale, controls):
                    specs.append(
                        _spec("k_cycles", task, scale, slug, label, label, seed, model=model)
                    )
            else:
                specs += [_ppo_control(task, scale, kind, seed) for kind in ppo_controls]
    return specs


def _ppo_control(task: Task, scale: Scale, kind: str, seed: int) -> RunSpec:
    """A PPO run of ``task`` that the TRM policies are measured against (or beside):

    - ``carry``: the ``trm-carry`` policy (its reasoning state carried across env steps, one
      round per step by default);
    - ``once``: the TRM policy with H_cycles = L_cycles = 1, one supervision step per action
      (the no-recursion control, as in the supervised studies);
    - ``mlp`` / ``convnet``: the baseline policies matched in parameters.
    """
    if kind == "carry":
        carry = _base(task, scale, "trm-carry").model
        label = f"TRM carry H{carry.H_cycles}/L{carry.L_cycles}"
        return _spec("k_cycles", task, scale, "trm-carry", label, "carry", seed,
                     carry.H_cycles, policy="trm-carry")  # fmt: skip
    if kind == "once":
        return _spec("k_cycles", task, scale, "once", "TRM once (no recursion)",
                     "TRM once (no recursion)", seed, model={"H_cycles": 1, "L_cycles": 1})  # fmt: skip
    label = {"mlp": "MLP", "convnet": "conv net"}[kind]
    slug = {"mlp": "mlp", "convnet": "conv"}[kind]
    return _spec("k_cycles", task, scale, slug, label, label, seed, policy=kind)


#: Extrapolation targets of the 11x11 maze runs in k_cycles (sizes beyond a conv net's
#: receptive field), with the test puzzles scored on each; think_longer adds the large ones
#: (31x31 and Maze-Hard: larger and with loops; slow to score on a CPU).
_MAZE_TARGETS = (("maze-15x15", 256), ("maze-21x21", 128))
#: Shifted distributions of the same size (named targets, see :data:`TARGETS`): mazes with loops
#: and mazes of another carving algorithm; recurrent conv nets trained on perfect DFS mazes are
#: known to fail on loops (reference: Knutson et al. 2024).
_SHIFTED_TARGETS = (("maze-11x11-braid", 256), ("maze-11x11-prim", 256))
_LONG_TARGETS = (*_MAZE_TARGETS, ("maze-31x31", 64), ("maze-hard", 100), *_SHIFTED_TARGETS)
#: Scoring targets that are not plain data names: label -> the data they stand for (test split
#: seeds differ from the training stream's).
TARGETS: dict[str, DataConfig] = {
    "maze-11x11-braid": DataConfig(name="maze-11x11", braid=0.3, seed=1),
    "maze-11x11-prim": DataConfig(name="maze-11x11", algorithm="prim", seed=1),
}


def target_data(label: str) -> str | DataConfig:
    """What an ``also`` target of a run stands for: a data name, or a :data:`TARGETS` entry."""
    return TARGETS.get(label, label)


#: The main job: 4x4 Sudoku, where a run is short enough for 3 seeds in a few minutes.
_QUICK_TASKS = (Task("sudoku-4x4", "supervised", "sudoku-4x4", 600, 0.15),)
# Mazes larger than a deep conv net's receptive field (trained 11x11, scored up to 31x31 and
# Maze-Hard) and 6x6 Sudoku; 5x5 mazes (about 90 layouts, all in the training pool) are retired.
_FULL_TASKS = (
    Task("maze-11x11", "supervised", "maze-11x11", 2000, 0.45, also=_MAZE_TARGETS),
    Task("sudoku-6x6", "supervised", "sudoku-6x6", 2000, 0.55),
)
_PAPER_TASKS = (
    Task("maze-hard", "supervised", "maze-hard", 20_000, 0.1, "paper-maze-att"),
    Task("sudoku-extreme", "supervised", "sudoku-extreme", 20_000, 0.1, "paper-sudoku-mlp"),
    Task("maze-15x15", "ppo", "trm_rl/Maze-15x15-v0", 1_000_000, 0.01, "paper-maze-att"),
    Task("sudoku-9x9", "ppo", "trm_rl/Sudoku-9x9-v0", 1_000_000, 0.01, "paper-sudoku-mlp"),
)
_CONTROLS = ("once", "untied", "dtnet", "convnet", "mlp")
#: PPO from scratch at equal env steps: 7x7 mazes, whose wall layouts the evaluation mazes do
#: not share with any training maze (5x5 mazes have about 90 layouts, all in the pool).
_PPO_TASKS = (Task("maze-7x7", "ppo", "trm_rl/Maze-7x7-v0", 100_000, 0.02),)
_PPO_CONTROLS = ("carry", "once", "convnet", "mlp")
#: The moonshot pilot: cpu-ppo's task at 1M env steps, one seed, for the policy that learnt most
#: at 100k (TRM H1/L3) beside the network applied once, the conv net and the MLP.
_PPO_1M_TASKS = (Task("maze-7x7", "ppo", "trm_rl/Maze-7x7-v0", 1_000_000, 0.02),)
PPO_CPU_PILOT = replace(PPO_CPU, seeds=(0,))


# ---------------------------------------------------------------------------- think_longer
def _think_longer(scale: Scale, steps: int) -> list[RunSpec]:
    task = Task("maze-11x11", "supervised", "maze-11x11", steps, 0.45, also=_LONG_TARGETS)
    k = _base(task, scale).model.H_cycles
    variants = [("trm", "TRM H2/L3 (conv mixer)", None, k)] + [
        (slug, label, model, None)
        for slug, label, model in _controls(task, scale, ("dtnet", "convnet"))
    ]
    return [
        _spec("think_longer", task, scale, slug, label, label, seed, k_, model=model)
        for seed in scale.seeds
        for slug, label, model, k_ in variants
    ]


# ------------------------------------------------------------------------------ ablations
def _model_ablations(task: Task, scale: Scale) -> list[tuple[str, str, dict[str, Any]]]:
    """(slug, group, model overrides) of every model ablation valid for ``task``'s TRM."""
    base = _base(task, scale).model
    out = [
        ("act-off" if base.act else "act-on", f"act={'off' if base.act else 'on'}",
         {"act": not base.act}),
    ]  # fmt: skip
    if base.mlp_type == "swiglu":
        out.append(("relu", "mlp=relu", {"mlp_type": "relu"}))
    sudoku = grid_info(_base(task, scale).data).kind == "sudoku"
    for mixer in ("attention", "mlp", "conv", *(("units",) if sudoku else ())):
        if mixer == base.mixer:
            continue
        change: dict[str, Any] = {"mixer": mixer}
        change["pos_encodings"] = "rope" if mixer == "attention" else "none"
        out.append((f"mixer-{mixer}", f"mixer={mixer}", change))
    for flag in ("single_z", "separate_networks", "full_backprop"):
        if not getattr(base, flag):
            out.append((flag.replace("_", "-"), f"{flag}=on", {flag: True}))
    return out


def _ablations(
    tasks: tuple[Task, ...], scale: Scale, only: tuple[str, ...] | None = None
) -> list[RunSpec]:
    """The ablation runs of ``tasks`` at ``scale``; ``only``: keep the base and these slugs."""
    specs = []
    for task in tasks:
        base = _base(task, scale)
        runs: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [("base", "base", {}, {})]
        if task.regime == "supervised":
            runs += [(s, g, m, {}) for s, g, m in _model_ablations(task, scale)]
            runs.append(("ema-off", "ema=off", {}, {"optim": replace(base.optim, ema=False)}))
        else:
            # the carry trains one PPO epoch per rollout by default (chosen when fine-tuning at
            # equal FLOPs); "carry-4-epochs" trains the recipe's four, as every other policy
            # does, so a from-scratch gap at equal env steps is not just fewer updates
            carry_ppo = _base(task, scale, "trm-carry").ppo
            runs += [
                ("carry", "carry=on", {}, {"policy": "trm-carry"}),
                ("carry-4-epochs", "carry, 4 epochs", {},
                 {"policy": "trm-carry", "ppo": replace(carry_ppo, n_epochs=4)}),
                ("carry-act", "carry+act", {}, {"policy": "trm-carry", "think_rounds": 4}),
            ]  # fmt: skip
            if base.game == "maze":
                env = make_env_spec(base.env.id, {**base.env.kwargs, "shaping": False})
                runs.append(("shaping-off", "shaping=off", {}, {"env": env}))
        if only is not None:
            unknown = set(only) - {slug for slug, *_ in runs}
            if unknown:
                raise ValueError(f"no ablation {sorted(unknown)} of the TRM on {task.name}")
            runs = [run for run in runs if run[0] == "base" or run[0] in only]
        for seed in scale.seeds:
            for slug, group, model, options in runs:
                specs.append(
                    _spec("ablations", task, scale, slug, f"TRM ({group})", group, seed,
                          model=model, **options)
                )  # fmt: skip
    return specs


_ABLATION_FULL_TASKS = (
    Task("sudoku-6x6", "supervised", "sudoku-6x6", 2000, 0.55),
    Task("maze-11x11", "supervised", "maze-11x11", 2000, 0.45),
    Task("maze-9x9", "ppo", "trm_rl/Maze-9x9-v0", 100_000, 0.02),
    Task("sudoku-4x4", "ppo", "trm_rl/Sudoku-4x4-v0", 100_000, 0.02),
)
#: The paper's own ablations (one latent, two networks, gradients through every recursion, no
#: EMA) on the task where recursion matters (11x11 mazes, beyond a conv net's receptive field),
#: the base reused from k_cycles: a study that fits a few CPU sessions where cpu-full's 140
#: runs take about 47 CPU-hours.
_ABLATION_CORE = ("single-z", "separate-networks", "full-backprop", "ema-off")

STUDIES: dict[str, Study] = {
    "k_cycles": Study(
        "k_cycles",
        "TRM with K = H_cycles in {1, 2, 3} (L fixed) against the no-recursion control (the same "
        "network once), a depth-matched untied network, a DT-recall recurrent conv net, the conv "
        "net and the MLP matched in parameters, at equal optimiser steps",
        {
            "cpu-quick": lambda: _k_cycles(_QUICK_TASKS, QUICK, (2,), ("once", "mlp"), None),
            "cpu-full": lambda: _k_cycles(_FULL_TASKS, FULL, (1, 2, 3), _CONTROLS, None),
            "cpu-ppo": lambda: _k_cycles(_PPO_TASKS, PPO_CPU, (1, 2, 3), (), None, _PPO_CONTROLS),
            "cpu-ppo-1m": lambda: _k_cycles(
                _PPO_1M_TASKS, PPO_CPU_PILOT, (1,), (), None, ("once", "convnet", "mlp")
            ),
            "gpu-paper": lambda: _k_cycles(
                _PAPER_TASKS, PAPER, (1, 2, 3), _CONTROLS, None, _PPO_CONTROLS
            ),
        },
        outs={"cpu-ppo": "results/k_cycles-ppo", "cpu-ppo-1m": "results/k_cycles-ppo-1m"},
    ),
    "think_longer": Study(
        "think_longer",
        "conv-mixer TRM, DT-recall and conv net trained on 11x11 mazes, scored on 15x15, 21x21, "
        "31x31 and Maze-Hard with supervision steps scaled with the cells; reuses the identical "
        "k_cycles maze runs when their weights are on disk (a fresh clone trains them)",
        {
            "cpu-full": lambda: _think_longer(FULL, 2000),
            "gpu-paper": lambda: _think_longer(PAPER, 20_000),
        },
    ),
    "ablations": Study(
        "ablations",
        "one change at a time to the recipe's TRM: ACT, EMA, ReLU, token mixers, single_z, "
        "separate_networks, full_backprop (supervised); carry, ACT thinking, shaping (PPO)",
        {
            "cpu-core": lambda: _ablations(_ABLATION_FULL_TASKS[1:2], FULL, _ABLATION_CORE),
            "cpu-full": lambda: _ablations(_ABLATION_FULL_TASKS, FULL),
            # k_cycles cpu-ppo's task; its base and carry runs are k_cycles' TRM and trm-carry
            # runs (identical configs, reused from results/k_cycles-ppo when on disk)
            "cpu-ppo": lambda: _ablations(_PPO_TASKS, PPO_CPU),
            "gpu-paper": lambda: _ablations(_PAPER_TASKS, PAPER),
        },
        outs={"cpu-ppo": "results/ablations-ppo"},
    ),
}


def get_study(name: str) -> Study:
    """The study called ``name``.

    :raises ValueError: for an unknown name, listing the known studies and their presets.
    """
    if name not in STUDIES:
        known = "; ".join(f"{s.name} ({', '.join(s.presets)})" for s in STUDIES.values())
        raise ValueError(f"unknown study {name!r}; choose one of: {known}")
    return STUDIES[name]


__all__ = ["REGIMES", "STUDIES", "RunSpec", "Scale", "Study", "Task", "get_study"]
