"""Training metrics: one row per log event into ``metrics.csv`` and TensorBoard, same names.

Columns (empty where a value does not apply to the row):

- ``step``, ``time_s`` (training wall time, evaluation excluded), ``examples`` (puzzles started),
  ``lr``, ``samples_per_s``;
- ``train/loss``, ``train/lm_loss``, ``train/q_halt_loss`` (per row), ``train/token_accuracy``,
  ``train/exact_accuracy``, ``train/q_halt_accuracy``, ``train/steps`` (supervision steps a halted
  row used): means over the rows that halted since the previous row;
- ``val/*``: :func:`trm_rl.supervised.evaluate.score` on the validation split (mazes also
  ``val/valid``, ``val/valid_halt`` and ``val/path_exact``, of the decoded path for
  distance-target data; the accuracies then measure the distance field);
- ``time/eval_minutes`` (wall minutes spent validating, all validations so far, across resumes)
  and ``time/eval_fraction`` (their share of training + validation wall time): the names and
  TensorBoard tags PPO runs log (:mod:`trm_rl.policies.train`).

With ``--wandb`` every row also goes to a W&B run (:mod:`trm_rl.tracking`).

On resume the file is rewritten (atomically) without the rows past the checkpoint, so a resumed
run's file equals an uninterrupted one's.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter

from envs.utils import atomic_write
from trm_rl.tracking import WandbRun

TRAIN_KEYS = (
    "train/loss",
    "train/lm_loss",
    "train/q_halt_loss",
    "train/token_accuracy",
    "train/exact_accuracy",
    "train/q_halt_accuracy",
    "train/steps",
)
VAL_KEYS = (
    "val/token_accuracy",
    "val/exact_accuracy",
    "val/token_accuracy_halt",
    "val/exact_accuracy_halt",
    "val/steps_halt",
    "val/halt_accuracy",
    "val/valid",
    "val/valid_halt",
    "val/path_exact",
)
TIME_KEYS = ("time/eval_minutes", "time/eval_fraction")
#: New columns go last: readers of older runs' files find the earlier ones where they were.
COLUMNS = ("step", "time_s", "examples", "lr", "samples_per_s", *TRAIN_KEYS, *VAL_KEYS, *TIME_KEYS)


class MetricsLog:
    """Append rows to ``metrics.csv`` and TensorBoard.

    :param run_dir: the run directory.
    :param tensorboard: also write TensorBoard events.
    :param resume_step: on resume, keep only the existing rows with ``step <= resume_step``.
    :param wandb: also send every row there (``--wandb``; closed with this log).
    """

    def __init__(
        self,
        run_dir: Path,
        tensorboard: bool,
        resume_step: int | None = None,
        wandb: WandbRun | None = None,
    ) -> None:
        self.path = Path(run_dir) / "metrics.csv"
        if resume_step is not None and self.path.exists():
            with self.path.open(newline="") as f:
                kept = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
            with atomic_write(self.path) as f:
                writer = csv.DictWriter(f, fieldnames=COLUMNS)
                writer.writeheader()
                writer.writerows(kept)
        elif not self.path.exists() or resume_step is None:
            with atomic_write(self.path) as f:
                csv.DictWriter(f, fieldnames=COLUMNS).writeheader()
        self._file = self.path.open("a", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=COLUMNS)
        self._tb = None
        self._wandb = wandb
        if tensorboard:
            self._tb = SummaryWriter(log_dir=str(run_dir), purge_step=resume_step)

    def log(self, row: dict[str, Any]) -> None:
        """Write one row (unknown keys are an error: the columns are fixed)."""
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown metric columns {sorted(unknown)}")
        clean = {k: _fmt(v) for k, v in row.items()}
        self._writer.writerow(clean)
        self._file.flush()
        if self._wandb is not None:
            self._wandb.log(row, int(row["step"]))
        if self._tb is not None:
            step = int(row["step"])
            for key, value in row.items():
                if (
                    key == "step"
                    or value is None
                    or (isinstance(value, float) and math.isnan(value))
                ):
                    continue
                self._tb.add_scalar(key if "/" in key else f"charts/{key}", float(value), step)
            self._tb.flush()

    def hparams(self, config: dict[str, Any]) -> None:
        """Record the run's configuration once, as a TensorBoard text table."""
        if self._tb is not None:
            lines = ["|key|value|", "|-|-|"] + [f"|{k}|{v}|" for k, v in sorted(config.items())]
            self._tb.add_text("hyperparameters", "\n".join(lines))

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}"
    return value
