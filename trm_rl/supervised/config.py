"""The config tree of a supervised run, the recipe of each data name, and the one resolver.

Two layers:

- :class:`TrainConfig` is what trains: the data (:class:`~trm_rl.data.DataConfig`), the model
  (a :class:`~trm_rl.model.TRMConfig`, :class:`~trm_rl.model.MLPConfig` or
  :class:`~trm_rl.model.ConvNetConfig`, every field concrete), the optimiser
  (:class:`OptimConfig`) and the run's budget and I/O. It is written to ``config.json`` and read
  back; studies build it with :func:`dataclasses.replace`.
- :class:`TrainArgs` is what a user types (``trm-rl train-supervised``): the same tree with every
  data, model and optimiser field optional (``--data.givens 30 35 --model.H-cycles 3
  --optim.lr 3e-4``), plus the older flags (``--preset``, ``--model-set``, ``--data-set``).

:func:`resolve_train` turns one into the other, once: the data name's :data:`RECIPES` entry,
then the named preset (``--model.preset``), then the fields the data fixes (vocabulary, cells,
grid width), then every value the user set. A set value is never replaced: one that cannot work
with the data or the model kind is refused with a message that says what to set instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from envs.utils import check_choice, check_float, check_int
from trm_rl.data.build import GridInfo, grid_info
from trm_rl.data.config import DataConfig
from trm_rl.model.baselines import (
    ConvNetConfig,
    MLPConfig,
    matched_convnet_config,
    matched_mlp_config,
)
from trm_rl.model.config import TRMConfig
from trm_rl.model.recurrent_conv import DTNetConfig, matched_dtnet_config
from trm_rl.model.registry import MODEL_KINDS, ModelConfig, config_from_dict
from trm_rl.overrides import combine, overrides_of, parse_key_values, set_fields
from trm_rl.supervised.warm_start import init_game, init_model_config

Optimizer = Literal["adamw", "adam-atan2"]
ModelKind = Literal["trm", "mlp", "convnet", "dtnet"]


# ------------------------------------------------------------------------------------ optimiser
@dataclass(frozen=True)
class OptimConfig:
    """The optimiser, its schedule and the loss of a supervised run."""

    batch_size: int = 64
    """Global batch size (rows worked on at once)."""
    lr: float = 1e-3
    """Peak learning rate."""
    lr_min_ratio: float = 0.1
    """Cosine decay down to lr * lr_min_ratio at the end of the budget (1: constant)."""
    warmup_steps: int = 100
    """Linear warm-up steps."""
    weight_decay: float = 0.1
    """Decoupled weight decay."""
    beta1: float = 0.9
    """Adam beta1."""
    beta2: float = 0.95
    """Adam beta2 (official 0.95)."""
    optimizer: Optimizer = "adamw"
    """'adamw' (torch AdamW) or 'adam-atan2' (the official optimiser, pure PyTorch here)."""
    ema: bool = True
    """Keep an exponential moving average of the weights; evaluation and checkpoints use it."""
    ema_decay: float = 0.999
    """EMA decay per step."""
    grad_clip: float | None = 1.0
    """Clip the global gradient norm to this value (None: no clipping)."""
    loss: Literal["stablemax", "softmax"] = "stablemax"
    """Token loss: stablemax (official) or softmax cross-entropy."""

    def __post_init__(self) -> None:
        check_int("optim.batch_size", self.batch_size, low=1)
        for name in ("lr", "weight_decay"):
            check_float(f"optim.{name}", getattr(self, name), low=0.0)
        check_float("optim.lr_min_ratio", self.lr_min_ratio, low=0.0, high=1.0)
        check_int("optim.warmup_steps", self.warmup_steps, low=0)
        check_float("optim.beta1", self.beta1, low=0.0, high=0.999999)
        check_float("optim.beta2", self.beta2, low=0.0, high=0.999999)
        check_choice("optim.optimizer", self.optimizer, ("adamw", "adam-atan2"))
        check_float("optim.ema_decay", self.ema_decay, low=0.0, high=0.999999)
        if self.grad_clip is not None:
            check_float("optim.grad_clip", self.grad_clip, low=1e-12)
        check_choice("optim.loss", self.loss, ("stablemax", "softmax"))


# ------------------------------------------------------------------------------------- recipes
@dataclass(frozen=True)
class Recipe:
    """Defaults of one data name: the TRM, the optimiser, the budget and the data fields found
    to work on it."""

    model: TRMConfig
    """The TRM (a preset with the recipe's changes; fitted to the data at resolution)."""
    optim: OptimConfig
    """The optimiser."""
    steps: int | None = None
    """The budget in optimiser steps when the user gives neither --steps nor --minutes (None:
    the user must give one)."""
    data: Mapping[str, Any] = field(default_factory=dict)
    """DataConfig fields the recipe trains on unless the user sets them (e.g. givens)."""


def _recipe(
    preset: str,
    batch_size: int,
    warmup_steps: int,
    steps: int | None = None,
    data: Mapping[str, Any] | None = None,
    **model: Any,
) -> Recipe:
    optim = OptimConfig(batch_size=batch_size, warmup_steps=warmup_steps)
    return Recipe(TRMConfig.preset(preset, **model), optim, steps, dict(data or {}))


#: Mazes train without adaptive halting: every row runs all supervision steps. With halting the
#: head learns to stop after ~3 steps and the later steps drift (11x11: 96.5% valid at 10
#: minutes, 89% at 15); without it the same recipe ends at 96% (results/supervised/README.md).
_NO_ACT = {"act": False}

#: The recipe of each data name (CSV files use the recipe of their kind's bundled set).
RECIPES: dict[str, Recipe] = {
    "sudoku-4x4": _recipe("cpu-sudoku-4x4", 64, 50, steps=600),
    "sudoku-6x6": _recipe("cpu-sudoku-6x6", 64, 100, steps=2000),
    # The units mixer (row/column/box peers) on puzzles with 30-35 givens (the shipped pool has
    # about 1,000 of them; 6,000 are generated at start, about 100 s): a one-seed pilot solved
    # 89.2% of 600 unseen puzzles after 800 steps (84.5% with early halting); the mlp mixer was
    # at 0% exact where it had 17%.
    "sudoku-9x9": _recipe(
        "cpu-sudoku-units", 64, 100, steps=800, data={"givens": (30, 35), "pool_size": 6000}
    ),
    "sudoku-extreme": _recipe("cpu-sudoku-9x9", 64, 100),
    "maze-9x9": _recipe("cpu-maze-conv", 32, 100, steps=2000, **_NO_ACT),
    "maze-11x11": _recipe("cpu-maze-conv", 32, 100, steps=2000, **_NO_ACT),
    "maze-15x15": _recipe("cpu-maze-conv", 32, 100, **_NO_ACT),
    "maze-31x31": _recipe("cpu-maze-conv", 16, 100, **_NO_ACT),
    "maze-hard": _recipe("cpu-maze-conv", 16, 100, **_NO_ACT),
}


def recipe_for(data: DataConfig, kind: str) -> Recipe:
    """The recipe of a data source; other sources use their kind's: ``maze-11x11``'s for
    generated maze sizes, ``maze-hard``'s for maze files, ``sudoku-extreme``'s for Sudoku
    files."""
    if data.name in RECIPES:
        return RECIPES[data.name]
    if kind == "maze":
        generated = data.source.family == "maze-generated"
        return RECIPES["maze-11x11" if generated else "maze-hard"]
    return RECIPES["sudoku-extreme"]


# ---------------------------------------------------------------------------------- the tree
@dataclass(frozen=True, kw_only=True)
class SupervisedRun:
    """The budget and I/O of a supervised run: what it shares with its command line."""

    out: Path = Path("runs/supervised")
    """Run directory: config.json, metrics.csv, TensorBoard events, checkpoint/."""
    steps: int | None = None
    """Budget in optimiser steps (one supervision step of the whole batch each; the recipes
    are budgeted in steps). One of steps/minutes."""
    minutes: float | None = None
    """Wall-clock budget in training minutes (evaluation excluded); prefer steps for studies."""
    seed: int = 0
    """Seed of the model, the exploration and the training stream (>= 0)."""
    init_from: str | None = None
    """Warm start: begin from the evaluated weights of a supervised run (its --out folder) or a
    shipped model (trm-rl models). The model is the source's architecture fitted to this data
    (a conv-mixer TRM moves across grid sizes; model fields you set apply on top); optimiser,
    EMA, schedule and step count start fresh. How a size curriculum is built from plain runs."""
    resume: bool = False
    """Continue the run in --out from its last checkpoint (the same options)."""
    eval_every: int | None = None
    """Evaluate on the validation split every N steps (None: 10 times over a --steps budget,
    about every 20 s of training over a --minutes one)."""
    eval_size: int | None = None
    """Validation puzzles per evaluation (None: the whole validation split)."""
    keep_every: int | None = None
    """Keep the evaluated weights every N steps (and at the end) in snapshots/step-N/, so a
    study can pick a checkpoint on validation and score it on test, or compare runs at equal
    FLOPs (None: keep none)."""
    device: str = "auto"
    """'auto' (CUDA when present), 'cpu', 'cuda', 'cuda:1', ..."""
    compile: bool = False
    """torch.compile the reasoning network (compile_network())."""
    threads: int | None = None
    """torch threads (None: one per process on CPU when running data parallel, else torch's)."""
    progress: bool = True
    """Show a progress bar with ETA."""
    tensorboard: bool = True
    """Write TensorBoard events into the run directory."""
    checkpoint_seconds: float = 60.0
    """Write a checkpoint at least this often (and at the end)."""
    wandb: bool = False
    """Also log every metrics.csv row and the config to Weights & Biases (pip install -e
    '.[wandb]'); the W&B run lives in <out>/wandb and --resume continues it. WANDB_MODE=offline
    keeps it on disk (upload later with wandb sync)."""
    wandb_project: str = "trm-rl"
    """The W&B project of --wandb runs."""


@dataclass(frozen=True, kw_only=True)
class TrainConfig(SupervisedRun):
    """Everything a supervised deep-supervision run trains with (``config.json``)."""

    data: DataConfig
    """The puzzles: source, splits, augmentation."""
    model: ModelConfig
    """The model: a TRMConfig or a baseline config (MLPConfig, ConvNetConfig, DTNetConfig)
    fitted to the data."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """The optimiser, its schedule and the loss."""

    def __post_init__(self) -> None:
        if not isinstance(self.data, DataConfig):
            raise ValueError(f"TrainConfig.data must be a DataConfig, got {type(self.data)}")
        if type(self.model) not in {cls for cls, _ in MODEL_KINDS.values()}:
            raise ValueError(
                "TrainConfig.model must be a TRMConfig or a baseline config (MLPConfig, "
                "ConvNetConfig, DTNetConfig), got "
                f"{type(self.model).__name__}"
            )
        if not isinstance(self.optim, OptimConfig):
            raise ValueError(f"TrainConfig.optim must be an OptimConfig, got {type(self.optim)}")
        check_budget(self.steps, self.minutes, "steps")
        check_int("seed", self.seed, low=0)
        if self.init_from is not None:
            object.__setattr__(self, "init_from", str(self.init_from))
        check_int("eval_every", self.eval_every, low=1, allow_none=True)
        check_int("eval_size", self.eval_size, low=1, allow_none=True)
        check_int("keep_every", self.keep_every, low=1, allow_none=True)
        check_int("threads", self.threads, low=1, allow_none=True)
        check_float("checkpoint_seconds", self.checkpoint_seconds, low=0.0)
        object.__setattr__(self, "out", Path(self.out))

    @property
    def kind(self) -> str:
        """The model kind: ``trm``, ``mlp`` or ``convnet``."""
        return self.model.kind

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nested dict (:meth:`from_dict` reads it back)."""
        out = dataclasses.asdict(self)
        out["data"] = dataclasses.asdict(self.data)
        out["model"] = self.model.to_dict()
        out["out"] = str(self.out)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from :meth:`to_dict` output.

        :raises ValueError: for missing parts or invalid values (named).
        """
        data = dict(data)
        try:
            data_cfg = DataConfig.from_dict(data.pop("data"))
            model = config_from_dict(data.pop("model"))
            optim = OptimConfig(**data.pop("optim", {}))
        except (KeyError, TypeError) as e:
            raise ValueError(f"not a TrainConfig dict ({e}); was config.json edited?") from None
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}; known: {sorted(names)}")
        return cls(data=data_cfg, model=model, optim=optim, **data)


def check_budget(count: Any, minutes: Any, name: str) -> None:
    """Exactly one of a count budget (``steps`` / ``timesteps``) and ``minutes``, positive and
    finite."""
    if (count is None) == (minutes is None):
        raise ValueError(f"give exactly one budget: --{name} N (preferred) or --minutes M")
    check_int(name, count, low=1, allow_none=True)
    if minutes is not None:
        check_float("minutes", minutes, low=1e-3)


# ------------------------------------------------------------------------- what a user types
DataArgs = overrides_of(
    "DataArgs", [DataConfig], doc="The puzzles (unset fields: DataConfig's defaults)."
)
_KIND_HELP = (
    "Model kind: 'trm', 'mlp' (an MLP over the flattened grid), 'convnet' (a residual conv "
    "net) or 'dtnet' (a weight-tied recurrent conv net with recall, DT-recall style); baselines are matched in parameters to the TRM of the preset/recipe unless their "
    "size fields are set. Default: trm."
)
_PRESET_HELP = (
    "A TRMConfig preset (cpu-sudoku-4x4, cpu-maze-conv, paper-maze-att, ...) in place of the "
    "data's recipe TRM."
)
ModelArgs = overrides_of(
    "ModelArgs",
    [TRMConfig, MLPConfig, ConvNetConfig, DTNetConfig],
    extra=[("kind", ModelKind, _KIND_HELP), ("preset", str, _PRESET_HELP)],
    doc="The model (unset fields: the preset's or the data's recipe; [mlp] etc. name the kinds "
    "a field belongs to).",
)
OptimArgs = overrides_of(
    "OptimArgs", [OptimConfig], doc="The optimiser (unset fields: the data's recipe)."
)

#: The older ``--preset`` values that name a model kind or a TRM variant, not a TRM preset.
LEGACY_PRESETS: dict[str, dict[str, Any]] = {
    "mlp": {"kind": "mlp"},
    "conv": {"kind": "convnet"},
    "convnet": {"kind": "convnet"},
    "trm-h1l1": {"kind": "trm", "H_cycles": 1, "L_cycles": 1},
}


@dataclass(frozen=True, kw_only=True)
class TrainArgs(SupervisedRun):
    """Train a TRM (or a baseline matched in parameters) by deep supervision. Unset data, model
    and optimiser fields come from the data name's recipe; a value you set is used as given or
    refused with the reason."""

    data: DataArgs = field(default_factory=DataArgs)  # type: ignore[valid-type]
    """The puzzles. ``--data NAME`` is short for ``--data.name NAME``: sudoku-4x4, sudoku-6x6,
    sudoku-9x9, sudoku-extreme, maze-9x9, maze-11x11, maze-15x15, maze-31x31 (any maze-HxW),
    maze-hard, or a CSV in the Sudoku-Extreme or Maze-Hard format (default sudoku-4x4)."""
    model: ModelArgs = field(default_factory=ModelArgs)  # type: ignore[valid-type]
    """The model."""
    optim: OptimArgs = field(default_factory=OptimArgs)  # type: ignore[valid-type]
    """The optimiser."""
    bf16: bool = False
    """Run the network in bfloat16 (sets model.forward_dtype; parameters stay float32); GPUs."""
    preset: str | None = None
    """Older spelling: a TRM preset (same as --model.preset), or 'mlp' / 'conv' (same as
    --model.kind mlp / convnet) or 'trm-h1l1' (--model.H-cycles 1 --model.L-cycles 1)."""
    model_set: tuple[str, ...] = ()
    """Older spelling of --model.FIELD: KEY=VALUE items (JSON values), e.g. H_cycles=3."""
    data_set: tuple[str, ...] = ()
    """Older spelling of --data.FIELD: KEY=VALUE items (JSON values), e.g. givens=[30,35]."""


def train_args(data: str = "sudoku-4x4", **options: Any) -> TrainArgs:
    """:class:`TrainArgs` from plain values, for scripts and tests: ``train_args("maze-9x9",
    steps=500, model={"H_cycles": 3}, optim={"lr": 3e-4})``.

    :param data: the data name (or give ``data_fields`` for more data fields).
    :param options: run fields of TrainArgs; ``model``, ``optim`` and ``data_fields`` are dicts
        of fields of ModelArgs, OptimArgs and DataArgs.
    """
    model = ModelArgs(**options.pop("model", {}))
    optim = OptimArgs(**options.pop("optim", {}))
    data_args = DataArgs(name=data, **options.pop("data_fields", {}))
    return TrainArgs(data=data_args, model=model, optim=optim, **options)


def resolve_train(args: TrainArgs) -> TrainConfig:
    """The :class:`TrainConfig` a :class:`TrainArgs` asks for.

    Order: the data name's recipe < ``--model.preset`` < what the data fixes (vocabulary,
    cells, grid width) < the values the user set. A set value that conflicts with the data or
    with the model kind is refused, never replaced.

    :param args: the user's options.
    :raises ValueError: naming the option and what to set instead.
    """
    data_fields = combine(
        set_fields(args.data), parse_key_values(args.data_set, DataArgs, "--data-set"),
        "--data-set", "--data",
    )  # fmt: skip
    data_fields.setdefault("name", "sudoku-4x4")
    data_cfg = DataConfig(**data_fields)
    own = RECIPES.get(data_cfg.name)  # a data name's own recipe also sets data and budget
    if own is not None and set(own.data) - set(data_fields):
        data_cfg = DataConfig(**{**own.data, **data_fields})
    grid = grid_info(data_cfg)
    recipe = recipe_for(data_cfg, grid.kind)
    model = resolve_model(args, recipe.model, grid)
    optim = dataclasses.replace(recipe.optim, **set_fields(args.optim))
    run = {f.name: getattr(args, f.name) for f in dataclasses.fields(SupervisedRun)}
    if run["steps"] is None and run["minutes"] is None:
        if own is None or own.steps is None:
            names = ", ".join(n for n, r in RECIPES.items() if r.steps is not None)
            raise ValueError(
                f"{data_cfg.name} has no recipe budget: give --steps N (preferred) or --minutes "
                f"M (recipes with a budget: {names})"
            )
        run["steps"] = own.steps
    if run["eval_every"] is None and run["minutes"] is None:
        run["eval_every"] = max(1, run["steps"] // 10)  # 10 validation points in a step budget
    return TrainConfig(data=data_cfg, model=model, optim=optim, **run)


def resolve_model(args: TrainArgs, recipe_model: TRMConfig, grid: GridInfo) -> ModelConfig:
    """The model of a run: see :func:`resolve_train`."""
    fields = combine(
        set_fields(args.model), parse_key_values(args.model_set, ModelArgs, "--model-set"),
        "--model-set", "--model",
    )  # fmt: skip
    if args.preset is not None:
        legacy = LEGACY_PRESETS.get(args.preset, {"preset": args.preset})
        fields = combine(fields, legacy, f"--preset {args.preset}", "--model")
    if args.bf16:
        fields = combine(fields, {"forward_dtype": "bfloat16"}, "--bf16", "--model")
    if args.init_from is not None:
        return _warm_start_model(args.init_from, fields, grid)
    kind = fields.pop("kind", "trm")
    preset = fields.pop("preset", None)
    if preset is not None and preset not in TRMConfig.preset_names():
        raise ValueError(
            f"unknown preset {preset!r}; choose a TRM preset {TRMConfig.preset_names()}, or "
            "--model.kind mlp / convnet for a baseline"
        )
    base = TRMConfig.preset(preset) if preset is not None else recipe_model
    return fit_model(kind, base, fields, grid.vocab_size, grid.cells, grid.cols)


def _warm_start_model(init_from: str, fields: dict[str, Any], grid: GridInfo) -> ModelConfig:
    """The model of a ``--init-from`` run: the source's, fitted to the data's grid."""
    game = init_game(init_from)
    if game != grid.kind:
        raise ValueError(
            f"--init-from {init_from!r} was trained on {game} puzzles, this data is {grid.kind}: "
            f"warm-start from a {grid.kind} run or shipped model"
        )
    source = init_model_config(init_from)
    kind = fields.pop("kind", source.kind)
    if kind != source.kind:
        raise ValueError(
            f"--model.kind {kind} contradicts --init-from {init_from!r}, a {source.kind} model; "
            "drop --model.kind (the warm start keeps the source's kind)"
        )
    if fields.pop("preset", None) is not None:
        raise ValueError(
            "--init-from takes the source's architecture; drop --model.preset (or --init-from)"
        )
    if source.vocab_size != grid.vocab_size:
        raise ValueError(
            f"--init-from {init_from!r} reads {source.vocab_size} tokens, this data has "
            f"{grid.vocab_size}: warm-start from a run on the same game, board and target"
        )
    transfers = getattr(source, "mixer", None) == "conv" or source.kind in ("convnet", "dtnet")
    if source.seq_len != grid.cells and not transfers:
        raise ValueError(
            f"--init-from {init_from!r} is a model of {source.seq_len} cells, this data has "
            f"{grid.cells}; only conv-mixer TRMs and conv baselines move across grid sizes"
        )
    names = {f.name for f in dataclasses.fields(type(source))}
    foreign = sorted(k for k in fields if k not in names)
    if foreign:
        raise ValueError(
            f"{type(source).__name__} (the --init-from model) has no field(s) {foreign}"
        )
    return source.replace(seq_len=grid.cells, grid_width=grid.cols, **fields)


#: Fields each kind's matcher takes as inputs (the rest of the size is solved for).
_MATCH_INPUTS: dict[str, tuple[str, ...]] = {
    "mlp": ("num_layers", "embed_dim", "hidden_size"),
    "convnet": ("num_blocks", "channels"),
    "dtnet": ("block_layers", "width", "recall"),
}
#: Baselines matched in parameters to a TRM, by kind.
_MATCHERS: dict[str, Any] = {
    "mlp": lambda trm, hidden_size=None, **kw: (
        matched_mlp_config(trm, **kw)
        if hidden_size is None
        else matched_mlp_config(trm, **kw).replace(hidden_size=hidden_size)
    ),
    "convnet": matched_convnet_config,
    "dtnet": matched_dtnet_config,
}


def fit_model(
    kind: str, base: TRMConfig, fields: dict[str, Any], vocab: int, cells: int, width: int
) -> ModelConfig:
    """A model of ``kind`` for a grid of ``cells`` cells, ``width`` columns and ``vocab``
    tokens: the TRM ``base`` (or a baseline matched in parameters to it) with ``fields`` set.

    :raises ValueError: for a field the kind does not have, or a set value the data contradicts.
    """
    kind = check_choice("model.kind", kind, tuple(MODEL_KINDS))
    config_class = MODEL_KINDS[kind][0]
    names = {f.name for f in dataclasses.fields(config_class)}
    trm_names = {f.name for f in dataclasses.fields(TRMConfig)}
    foreign = sorted(k for k in fields if k not in names)
    if foreign:
        hint = (
            "they shape the TRM; a baseline is matched to the TRM of --model.preset"
            if kind != "trm" and set(foreign) <= trm_names
            else f"{config_class.__name__} has {sorted(names)}"
        )
        raise ValueError(f"--model.kind {kind} has no field(s) {foreign}: {hint}")
    fixed = {"vocab_size": vocab, "seq_len": cells, "grid_width": width}
    for key, value in fixed.items():
        if key in fields and fields[key] != value:
            raise ValueError(
                f"model.{key}={fields[key]!r} contradicts the data ({key} {value}: a grid of "
                f"{cells} cells, {width} columns, {vocab} tokens); leave it unset"
            )
    trm = base.replace(**fixed)
    if kind == "trm":
        return trm.replace(**fields)
    inputs = {k: fields[k] for k in _MATCH_INPUTS[kind] if k in fields}
    if set(inputs) == set(_MATCH_INPUTS[kind]):  # the whole size is given: nothing to match
        matched: Any = config_class(**fixed, forward_dtype=trm.forward_dtype, **inputs)
    else:
        matched = _MATCHERS[kind](trm, **inputs)
    return matched.replace(**fields)


def stored_train_config(stored: dict[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` of a run's ``config.json`` dict (``trm_rl.runs.read_config``):
    format 2, or format 1 (flat options, written before the config tree).

    :raises ValueError: when the dict is not a supervised run's config.
    """
    if stored.get("format", 1) >= 2:
        return TrainConfig.from_dict(stored["config"])
    try:
        old, resolved = dict(stored["train"]), dict(stored["resolved"])
        optim = OptimConfig(
            **{k: resolved[k] for k in ("batch_size", "lr", "weight_decay", "warmup_steps",
                                        "lr_min_ratio")},
            **{k: old[k] for k in ("beta1", "beta2", "optimizer", "ema", "ema_decay",
                                   "grad_clip", "loss") if k in old},
        )  # fmt: skip
        model = config_from_dict(stored["model"])
        data = DataConfig.from_dict(stored["data"])
    except (KeyError, TypeError) as e:
        raise ValueError(f"not a supervised run config ({e}); was config.json edited?") from None
    run = {f.name: old[f.name] for f in dataclasses.fields(TrainConfig) if f.name in old}
    run.pop("data", None), run.pop("model", None), run.pop("optim", None)
    return TrainConfig(data=data, model=model, optim=optim, **run)


__all__ = [
    "LEGACY_PRESETS",
    "RECIPES",
    "DataArgs",
    "ModelArgs",
    "OptimArgs",
    "OptimConfig",
    "Recipe",
    "SupervisedRun",
    "TrainArgs",
    "TrainConfig",
    "check_budget",
    "fit_model",
    "recipe_for",
    "resolve_model",
    "resolve_train",
    "stored_train_config",
    "train_args",
]
