"""The studies of the project as data: each one expands a preset into the runs of a sweep.

A study is a base config x a grid x seeds. Every run is a :class:`RunSpec`: its labels in the
tidy CSVs (``task``, ``variant``, ``group``, ``K``, ``seed``), the fields of the
:class:`~trm_rl.supervised.config.TrainConfig` or :class:`~trm_rl.policies.config.PPOConfig`
that train it (``out``, ``resume``, ``progress`` and the thread counts are set by the runner),
and how it is evaluated. ``experiments/sweep.py`` runs them.

Studies (``trm-rl sweep STUDY --preset P``):

- ``k_cycles``: the TRM with K = H_cycles rounds per supervision step (L_cycles fixed by the
  preset; cpu-full adds one run with L doubled) against the MLP and conv baselines matched in
  parameters, on a maze and a Sudoku, supervised and with PPO. Presets: cpu-quick, cpu-full,
  gpu-paper.
- ``think_longer``: the conv-mixer TRM (``cpu-maze-conv``) and the matched conv net trained on
  11x11 mazes, scored on their test split and on 15x15, 31x31 and Maze-Hard (30x30) mazes with
  supervision steps scaled with the cells (``trm-rl evaluate --data``). Presets: cpu-full,
  gpu-paper.
- ``ablations``: one change at a time to the recipe's TRM. Supervised: ACT, EMA, SwiGLU -> ReLU,
  the other token mixers, single_z, separate_networks, full_backprop. PPO: the carry across env
  steps, ACT thinking time (with the carry), reward shaping (mazes). Presets: cpu-full,
  gpu-paper.

Presets (minutes are training minutes per run; validation and evaluation come on top, see
``est_minutes``):

- ``cpu-quick``: 5x5 mazes and 4x4 Sudoku, K in {1, 3} against the MLP, 2 seeds, 0.4 minutes
  per run, smaller evaluations; about 8 minutes with 2 workers on 2 cores.
- ``cpu-full``: 3 seeds, 2 minutes per supervised run and 1.5 per PPO run (think_longer: 11x11
  mazes, 12 minutes). k_cycles: 7x7 mazes and 6x6 Sudoku (supervised), 5x5 mazes and 4x4 Sudoku
  (PPO), about 1.6 hours; ablations: 9x9 mazes, 6x6 / 4x4 Sudoku, about 1.5 hours;
  think_longer: about 1 hour; all with 2 workers on 2 cores.
- ``gpu-paper``: the paper's models (``paper-sudoku-mlp``, ``paper-maze-att``) on
  Sudoku-Extreme and Maze-Hard (PPO: 9x9 Sudoku, 15x15 mazes), device auto, bfloat16, 30
  (PPO: 20) minutes per run, full evaluations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from trm_rl.data.build import grid_info
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
    """How big a preset makes every run: seeds, budgets, evaluation sizes, device."""

    seeds: tuple[int, ...]
    sup_minutes: float
    ppo_minutes: float
    sup_options: dict[str, Any]
    """Extra TrainConfig fields (e.g. eval_size, bf16, the paper's batch and learning rate)."""
    ppo_options: dict[str, Any]
    """Extra PPOConfig fields (e.g. val_episodes, eval_every_s, smaller rollouts)."""
    eval_episodes: int
    eval_limit: int | None
    eval_steps_per_cell: float | None
    eval_stochastic: bool
    sup_overhead: float
    """Estimated minutes of a supervised run besides its training budget."""
    ppo_overhead: float
    """Estimated minutes of a PPO run besides its training budget."""
    device: str = "cpu"


_CPU_SUP = {"device": "cpu"}
_CPU_PPO = {"device": "cpu"}
QUICK = Scale(
    seeds=(0, 1),
    sup_minutes=0.4,
    ppo_minutes=0.4,
    sup_options={**_CPU_SUP, "eval_size": 128},
    # Smaller rollouts than the recipe's, so that a TRM policy makes several updates.
    ppo_options={**_CPU_PPO, "n_envs": 16, "n_steps": 32, "batch_size": 256, "val_episodes": 50,
                 "test_episodes": 100},
    eval_episodes=100,
    eval_limit=256,
    eval_steps_per_cell=1.0,
    eval_stochastic=False,
    sup_overhead=0.25,
    ppo_overhead=0.35,
)  # fmt: skip
FULL = Scale(
    seeds=(0, 1, 2),
    sup_minutes=2.0,
    ppo_minutes=1.5,
    sup_options={**_CPU_SUP, "eval_size": 128},
    ppo_options={**_CPU_PPO, "val_episodes": 64, "test_episodes": 200, "eval_every_s": 30.0},
    eval_episodes=200,
    eval_limit=None,
    eval_steps_per_cell=1.0,
    eval_stochastic=False,
    sup_overhead=0.5,
    ppo_overhead=0.5,
)
PAPER = Scale(
    seeds=(0, 1, 2),
    sup_minutes=30.0,
    ppo_minutes=20.0,
    # The paper's optimiser (lr 1e-4, weight decay 1.0, 2000 warm-up steps) at a batch that two
    # runs sharing one GPU can hold (the paper: 768).
    sup_options={"device": "auto", "bf16": True, "batch_size": 256, "lr": 1e-4,
                 "weight_decay": 1.0, "warmup_steps": 2000, "eval_size": 1000},
    ppo_options={"device": "auto", "eval_every_s": 120.0},
    eval_episodes=1000,
    eval_limit=None,
    eval_steps_per_cell=None,
    eval_stochastic=True,
    sup_overhead=3.0,
    ppo_overhead=4.0,
    device="auto",
)  # fmt: skip


@dataclass(frozen=True)
class Task:
    """A task of one regime: its name in the CSVs and what trains on it."""

    name: str
    regime: Regime
    source: str
    """Supervised: the data name; PPO: the env id."""
    preset: str | None = None
    """The TRM preset (None: the recipe's)."""


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
        args = train_args(task.source, minutes=scale.sup_minutes, model=model, optim=optim,
                          **options)  # fmt: skip
        return resolve_train(args)
    options = dict(scale.ppo_options)
    ppo = {k: options.pop(k) for k in list(options) if k in _PPO_FIELDS}
    args = ppo_args(task.source, minutes=scale.ppo_minutes, model=model, ppo=ppo,
                    policy=policy, **options)  # fmt: skip
    return resolve_ppo(args)


def _trm_base(task: Task) -> Any:
    """The TRM the recipe trains on ``task`` (fitted to its grid)."""
    return _base(task, QUICK).model


def _baseline_model(task: Task, scale: Scale, kind: str) -> Any:
    """A supervised baseline of ``kind`` matched in parameters to the task's TRM."""
    config = _base(task, scale)
    grid = grid_info(config.data)
    return fit_model(kind, config.model, {}, grid.vocab_size, grid.cells, grid.cols)


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
    config = _base(task, scale, "trm" if sup else policy)
    if isinstance(model, Mapping):
        model = config.model.replace(**model)
    config = replace(config, seed=seed, model=model or config.model, **changes)
    overhead = scale.sup_overhead if sup else scale.ppo_overhead
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
        eval_episodes=scale.eval_episodes,
        eval_limit=scale.eval_limit if sup else None,
        eval_steps_per_cell=None if sup else scale.eval_steps_per_cell,
        eval_stochastic=False if sup else scale.eval_stochastic,
        est_minutes=round(float(config.minutes) + overhead, 2),
    )


# ------------------------------------------------------------------------------- k_cycles
def _k_cycles(
    tasks: tuple[Task, ...],
    scale: Scale,
    ks: tuple[int, ...],
    baselines: tuple[str, ...],
    double_l_at: int | None,
) -> list[RunSpec]:
    specs = []
    for task in tasks:
        base = _base(task, scale).model
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
            for kind in baselines:
                label = {"mlp": "MLP", "convnet": "conv net"}[kind]
                slug = {"mlp": "mlp", "convnet": "conv"}[kind]
                if task.regime == "supervised":
                    model = _baseline_model(task, scale, kind)
                    spec = _spec("k_cycles", task, scale, slug, label, label, seed, model=model)
                else:
                    spec = _spec("k_cycles", task, scale, slug, label, label, seed, policy=kind)
                specs.append(spec)
    return specs


_QUICK_TASKS = (
    Task("maze-5x5", "supervised", "maze-5x5"),
    Task("sudoku-4x4", "supervised", "sudoku-4x4"),
    Task("maze-5x5", "ppo", "trm_rl/Maze-5x5-v0"),
    Task("sudoku-4x4", "ppo", "trm_rl/Sudoku-4x4-v0"),
)
# 6x6 Sudoku separates the models in supervised training (4x4 saturates); PPO keeps 4x4.
# Small mazes: at 2 minutes a run, 9x9 mazes stay near 0% (supervised) and near the random
# policy (PPO) for every model (results/supervised, results/ppo), which would compare nothing;
# a TRM policy makes about 70 env steps/s on 7x7 mazes here, so PPO gets 5x5.
_FULL_TASKS = (
    Task("maze-7x7", "supervised", "maze-7x7"),
    Task("sudoku-6x6", "supervised", "sudoku-6x6"),
    Task("maze-5x5", "ppo", "trm_rl/Maze-5x5-v0"),
    Task("sudoku-4x4", "ppo", "trm_rl/Sudoku-4x4-v0"),
)
_PAPER_TASKS = (
    Task("maze-hard", "supervised", "maze-hard", "paper-maze-att"),
    Task("sudoku-extreme", "supervised", "sudoku-extreme", "paper-sudoku-mlp"),
    Task("maze-15x15", "ppo", "trm_rl/Maze-15x15-v0", "paper-maze-att"),
    Task("sudoku-9x9", "ppo", "trm_rl/Sudoku-9x9-v0", "paper-sudoku-mlp"),
)


# ---------------------------------------------------------------------------- think_longer
def _think_longer(scale: Scale, minutes: float, targets: tuple[tuple[str, int | None], ...],
                  eval_overhead: float) -> list[RunSpec]:  # fmt: skip
    task = Task("maze-11x11", "supervised", "maze-11x11")
    scale = replace(scale, sup_minutes=minutes)
    k = _base(task, scale).model.H_cycles
    conv = _baseline_model(task, scale, "convnet")
    specs = []
    for seed in scale.seeds:
        for slug, variant, model in (("trm", "TRM H2/L3 (conv mixer)", None),
                                     ("conv", "conv net", conv)):  # fmt: skip
            spec = _spec("think_longer", task, scale, slug, variant, variant, seed,
                         k if model is None else None, model=model)  # fmt: skip
            specs.append(replace(spec, also=targets, est_minutes=spec.est_minutes + eval_overhead))
    return specs


# ------------------------------------------------------------------------------ ablations
def _model_ablations(task: Task) -> list[tuple[str, str, dict[str, Any]]]:
    """(slug, group, model overrides) of every model ablation valid for ``task``'s TRM."""
    base = _base(task, QUICK).model
    out = [
        ("act-off" if base.act else "act-on", f"act={'off' if base.act else 'on'}",
         {"act": not base.act}),
    ]  # fmt: skip
    if base.mlp_type == "swiglu":
        out.append(("relu", "mlp=relu", {"mlp_type": "relu"}))
    for mixer in ("attention", "mlp", "conv"):
        if mixer == base.mixer:
            continue
        change: dict[str, Any] = {"mixer": mixer}
        change["pos_encodings"] = "rope" if mixer == "attention" else "none"
        out.append((f"mixer-{mixer}", f"mixer={mixer}", change))
    for flag in ("single_z", "separate_networks", "full_backprop"):
        if not getattr(base, flag):
            out.append((flag.replace("_", "-"), f"{flag}=on", {flag: True}))
    return out


def _ablations(tasks: tuple[Task, ...], scale: Scale) -> list[RunSpec]:
    specs = []
    for task in tasks:
        base = _base(task, scale)
        runs: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [("base", "base", {}, {})]
        if task.regime == "supervised":
            runs += [(s, g, m, {}) for s, g, m in _model_ablations(task)]
            runs.append(("ema-off", "ema=off", {}, {"optim": replace(base.optim, ema=False)}))
        else:
            runs += [
                ("carry", "carry=on", {}, {"policy": "trm-carry"}),
                ("carry-act", "carry+act", {}, {"policy": "trm-carry", "think_rounds": 4}),
            ]
            if base.game == "maze":
                env = make_env_spec(base.env.id, {**base.env.kwargs, "shaping": False})
                runs.append(("shaping-off", "shaping=off", {}, {"env": env}))
        for seed in scale.seeds:
            for slug, group, model, options in runs:
                specs.append(
                    _spec("ablations", task, scale, slug, f"TRM ({group})", group, seed,
                          model=model, **options)
                )  # fmt: skip
    return specs


_ABLATION_FULL_TASKS = (
    Task("sudoku-6x6", "supervised", "sudoku-6x6"),
    Task("maze-9x9", "supervised", "maze-9x9"),
    Task("maze-9x9", "ppo", "trm_rl/Maze-9x9-v0"),
    Task("sudoku-4x4", "ppo", "trm_rl/Sudoku-4x4-v0"),
)

STUDIES: dict[str, Study] = {
    "k_cycles": Study(
        "k_cycles",
        "TRM with K = H_cycles in {1, 2, 3, 5} (L fixed) vs MLP and conv baselines matched in "
        "parameters; maze and Sudoku; supervised and PPO",
        {
            "cpu-quick": lambda: _k_cycles(_QUICK_TASKS, QUICK, (1, 3), ("mlp",), None),
            "cpu-full": lambda: _k_cycles(_FULL_TASKS, FULL, (1, 2, 3, 5), ("mlp", "convnet"), 2),
            "gpu-paper": lambda: _k_cycles(
                _PAPER_TASKS, PAPER, (1, 2, 3, 5), ("mlp", "convnet"), None
            ),
        },
    ),
    "think_longer": Study(
        "think_longer",
        "conv-mixer TRM and conv net trained on 11x11 mazes, scored on 15x15, 31x31 and "
        "Maze-Hard with supervision steps scaled with the cells",
        {
            "cpu-full": lambda: _think_longer(
                FULL, 12.0, (("maze-15x15", 256), ("maze-31x31", 64), ("maze-hard", 64)), 8.0
            ),
            "gpu-paper": lambda: _think_longer(
                PAPER, 30.0, (("maze-15x15", None), ("maze-31x31", 256), ("maze-hard", None)), 5.0
            ),
        },
    ),
    "ablations": Study(
        "ablations",
        "one change at a time to the recipe's TRM: ACT, EMA, ReLU, token mixers, single_z, "
        "separate_networks, full_backprop (supervised); carry, ACT thinking, shaping (PPO)",
        {
            "cpu-full": lambda: _ablations(_ABLATION_FULL_TASKS, FULL),
            "gpu-paper": lambda: _ablations(_PAPER_TASKS, PAPER),
        },
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
