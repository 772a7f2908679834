"""``TrainConfig``: every option of ``trm-rl train-supervised``, and the recipe per data name.

A run is (data, model preset, training options). The defaults of the training options depend on
the data name (:data:`RECIPES`): ``trm-rl train-supervised --data sudoku-4x4 --minutes 3 --out
runs/s4`` uses the best TRM recipe found for 4x4 Sudoku. Any field of the model config or of the
data config can be overridden (``--model-set hidden_size=96 H_cycles=3``,
``--data-set givens=[30,35]``), values parsed as JSON where they parse.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from envs.utils import check_choice, check_float, check_int

Optimizer = Literal["adamw", "adam-atan2"]


@dataclass(frozen=True)
class TrainConfig:
    """Options of a supervised deep-supervision run (``trm-rl train-supervised``)."""

    data: str = "sudoku-4x4"
    """Dataset: sudoku-4x4, sudoku-6x6, sudoku-9x9, sudoku-extreme, maze-9x9, maze-11x11,
    maze-15x15, maze-31x31, maze-hard, or a CSV in the Sudoku-Extreme or Maze-Hard format."""
    preset: str | None = None
    """Model preset: a TRMConfig preset (cpu-sudoku-4x4, cpu-maze-conv, paper-maze-att, ...),
    'mlp' or 'conv' (the baselines matched in parameters to the recipe's TRM preset) or
    'trm-h1l1' (the recipe's TRM with H_cycles=1, L_cycles=1). None: the data name's recipe."""
    out: Path = Path("runs/supervised")
    """Run directory: config.json, metrics.csv, TensorBoard events, checkpoint/."""
    minutes: float | None = None
    """Wall-clock training budget in minutes (evaluation excluded). One of minutes/steps."""
    steps: int | None = None
    """Budget in optimiser steps (one supervision step of the whole batch each)."""
    seed: int = 0
    """Seed of the model, the exploration and the training stream (>= 0)."""
    resume: bool = False
    """Continue the run in --out from its last checkpoint (same budget, same weights as an
    uninterrupted run)."""
    batch_size: int | None = None
    """Global batch size (rows worked on at once); None: the recipe's."""
    lr: float | None = None
    """Peak learning rate; None: the recipe's."""
    lr_min_ratio: float | None = None
    """Cosine decay down to lr * lr_min_ratio at the end of the budget (1: constant)."""
    warmup_steps: int | None = None
    """Linear warm-up steps; None: the recipe's."""
    weight_decay: float | None = None
    """Decoupled weight decay; None: the recipe's."""
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
    eval_every: int | None = None
    """Evaluate on the validation split every N steps (None: about every 20 s of training)."""
    eval_size: int | None = None
    """Validation puzzles per evaluation (None: the whole validation split)."""
    model_set: tuple[str, ...] = ()
    """Model config overrides KEY=VALUE (JSON values), e.g. hidden_size=96 H_cycles=3."""
    data_set: tuple[str, ...] = ()
    """Data config overrides KEY=VALUE (JSON values), e.g. givens=[30,35] val_size=512."""
    device: str = "auto"
    """'auto' (CUDA when present), 'cpu', 'cuda', 'cuda:1', ..."""
    bf16: bool = False
    """Run the network in bfloat16 (parameters stay float32); for GPUs."""
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

    def __post_init__(self) -> None:
        if (self.minutes is None) == (self.steps is None):
            raise ValueError("give exactly one budget: --minutes M or --steps N")
        if self.minutes is not None:
            check_float("minutes", self.minutes, low=1e-3)
        check_int("steps", self.steps, low=1, allow_none=True)
        check_int("seed", self.seed, low=0)
        check_int("batch_size", self.batch_size, low=1, allow_none=True)
        for name in ("lr", "weight_decay", "lr_min_ratio"):
            if getattr(self, name) is not None:
                check_float(name, getattr(self, name), low=0.0)
        if self.lr_min_ratio is not None and self.lr_min_ratio > 1:
            raise ValueError(f"lr_min_ratio must be in [0, 1], got {self.lr_min_ratio}")
        check_int("warmup_steps", self.warmup_steps, low=0, allow_none=True)
        check_float("beta1", self.beta1, low=0.0, high=0.999999)
        check_float("beta2", self.beta2, low=0.0, high=0.999999)
        check_choice("optimizer", self.optimizer, ("adamw", "adam-atan2"))
        check_float("ema_decay", self.ema_decay, low=0.0, high=0.999999)
        if self.grad_clip is not None:
            check_float("grad_clip", self.grad_clip, low=1e-12)
        check_choice("loss", self.loss, ("stablemax", "softmax"))
        check_int("eval_every", self.eval_every, low=1, allow_none=True)
        check_int("eval_size", self.eval_size, low=1, allow_none=True)
        check_int("threads", self.threads, low=1, allow_none=True)
        check_float("checkpoint_seconds", self.checkpoint_seconds, low=0.0)
        parse_overrides(self.model_set, "--model-set")
        parse_overrides(self.data_set, "--data-set")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (paths as strings)."""
        out = dataclasses.asdict(self)
        out["out"] = str(self.out)
        out["model_set"], out["data_set"] = list(self.model_set), list(self.data_set)
        return out


@dataclass(frozen=True)
class Recipe:
    """Defaults of one data name: the TRM preset and the training options found to work."""

    preset: str
    batch_size: int
    lr: float
    weight_decay: float
    warmup_steps: int
    lr_min_ratio: float = 0.1
    model_set: dict[str, Any] = field(default_factory=dict)


#: Mazes train without adaptive halting: every row runs all supervision steps. With halting the
#: head learns to stop after ~3 steps and the later steps drift (11x11: 96.5% valid at 10
#: minutes, 89% at 15); without it the same recipe ends at 96% (results/supervised/README.md).
_MAZE_SET: dict[str, Any] = {"act": False}

#: The recipe of each data name (CSV files use the recipe of their kind's bundled set).
RECIPES: dict[str, Recipe] = {
    "sudoku-4x4": Recipe("cpu-sudoku-4x4", batch_size=64, lr=1e-3, weight_decay=0.1,
                         warmup_steps=50),
    "sudoku-6x6": Recipe("cpu-sudoku-6x6", batch_size=64, lr=1e-3, weight_decay=0.1,
                         warmup_steps=100),
    "sudoku-9x9": Recipe("cpu-sudoku-9x9", batch_size=64, lr=1e-3, weight_decay=0.1,
                         warmup_steps=100),
    "sudoku-extreme": Recipe("cpu-sudoku-9x9", batch_size=64, lr=1e-3, weight_decay=0.1,
                             warmup_steps=100),
    "maze-9x9": Recipe("cpu-maze-conv", batch_size=32, lr=1e-3, weight_decay=0.1,
                       warmup_steps=100, model_set=_MAZE_SET),
    "maze-11x11": Recipe("cpu-maze-conv", batch_size=32, lr=1e-3, weight_decay=0.1,
                         warmup_steps=100, model_set=_MAZE_SET),
    "maze-15x15": Recipe("cpu-maze-conv", batch_size=32, lr=1e-3, weight_decay=0.1,
                         warmup_steps=100, model_set=_MAZE_SET),
    "maze-31x31": Recipe("cpu-maze-conv", batch_size=16, lr=1e-3, weight_decay=0.1,
                         warmup_steps=100, model_set=_MAZE_SET),
    "maze-hard": Recipe("cpu-maze-conv", batch_size=16, lr=1e-3, weight_decay=0.1,
                        warmup_steps=100, model_set=_MAZE_SET),
}  # fmt: skip


def recipe_for(data_name: str, kind: str) -> Recipe:
    """The recipe of a data name; a CSV path uses ``sudoku-extreme`` or ``maze-hard``'s."""
    if data_name in RECIPES:
        return RECIPES[data_name]
    return RECIPES["sudoku-extreme" if kind == "sudoku" else "maze-hard"]


def parse_overrides(items: tuple[str, ...] | list[str], flag: str) -> dict[str, Any]:
    """``["a=1", "b=[2,3]", "c=mlp"]`` -> ``{"a": 1, "b": [2, 3], "c": "mlp"}``.

    :raises ValueError: for an item without ``=`` or with an empty key.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = str(item).partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} takes KEY=VALUE items, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.strip()] = value
    return out
