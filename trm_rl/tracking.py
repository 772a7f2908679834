"""Weights & Biases logging beside ``metrics.csv`` and TensorBoard (``--wandb``).

A run trained with ``--wandb`` sends every row it writes to ``metrics.csv`` to a W&B run too:
the same metric names, at the same step (optimiser steps for supervised runs, env steps for PPO),
and the run's config. The W&B run lives in the run directory (``<run>/wandb/``) and its id is
kept in ``<run>/wandb_id.txt``, so ``--resume`` continues the same W&B run.

W&B's own environment variables apply: ``WANDB_MODE=offline`` keeps everything on disk (upload
it later with ``wandb sync <run>/wandb/offline-run-*``), ``WANDB_MODE=disabled`` turns it off,
``WANDB_ENTITY`` picks the team. ``wandb`` is an optional dependency:
``pip install -e '.[wandb]'``.

Logging goes through :meth:`WandbRun.log` directly (no patching of TensorBoard), so several
runs trained one after another in one process (a sweep with ``--workers 1``) each get their own
W&B run.
"""

from __future__ import annotations

import importlib.util
import json
import math
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from envs.utils import atomic_write

#: What to install for ``--wandb``.
WANDB_EXTRA = "--wandb needs the wandb package: pip install -e '.[wandb]' (or pip install wandb)"
#: The W&B run id of a run directory (kept so that ``--resume`` continues the same W&B run).
ID_FILE = "wandb_id.txt"


class WandbRun:
    """One W&B run mirroring a training run's metrics.

    :param run_dir: the training run's directory (W&B writes into ``run_dir/wandb``).
    :param config: the run's config tree (recorded as the W&B run's config).
    :param project: the W&B project.
    :param job_type: ``"supervised"`` or ``"ppo"``.
    :raises ImportError: with what to install, when wandb is missing.
    """

    def __init__(
        self, run_dir: Path, config: Mapping[str, Any], project: str, job_type: str
    ) -> None:
        try:
            import wandb
        except ImportError:
            raise ImportError(WANDB_EXTRA) from None
        run_dir = Path(run_dir)
        id_path = run_dir / ID_FILE
        run_id = id_path.read_text().strip() if id_path.exists() else uuid.uuid4().hex[:12]
        if not id_path.exists():
            with atomic_write(id_path) as f:
                f.write(run_id + "\n")
        self._run = wandb.init(
            project=project,
            name=run_dir.name,
            id=run_id,
            resume="allow",
            dir=str(run_dir),
            job_type=job_type,
            config=json.loads(json.dumps(config, default=str)),  # paths as text
            reinit="finish_previous",
        )

    @property
    def id(self) -> str:
        """The W&B run id (also in ``<run>/wandb_id.txt``)."""
        return str(self._run.id)

    def log(self, row: Mapping[str, Any], step: int) -> None:
        """Log the numeric, finite values of ``row`` (a ``metrics.csv`` row) at ``step``."""
        values = {}
        for key, value in row.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue  # empty cells and text
            if math.isfinite(number):
                values[key] = number
        if values:
            self._run.log(values, step=int(step))

    def finish(self) -> None:
        """Close the W&B run (uploads, or writes the offline files)."""
        self._run.finish()


def check_wandb(enabled: bool) -> None:
    """Fail before a run writes anything when ``--wandb`` is asked for and wandb is missing.

    :raises ImportError: with what to install.
    """
    if enabled and importlib.util.find_spec("wandb") is None:
        raise ImportError(WANDB_EXTRA)


def open_wandb(
    enabled: bool, run_dir: Path, config: Mapping[str, Any], project: str, job_type: str
) -> WandbRun | None:
    """A :class:`WandbRun` when ``enabled`` (``--wandb``), else None."""
    return WandbRun(run_dir, config, project, job_type) if enabled else None


__all__ = ["ID_FILE", "WANDB_EXTRA", "WandbRun", "check_wandb", "open_wandb"]
