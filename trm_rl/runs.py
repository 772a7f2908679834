"""Run directories, shared by supervised and PPO runs: ``config.json``, resume rules, progress.

Every run directory holds a ``config.json`` written once, atomically, when the run starts::

    {"format": 2, "regime": "supervised" | "ppo", "config": <the resolved config tree>, ...}

plus what each regime adds (the data and model dicts, the resolved PPO settings). Runs written
before the format field (format 1) are recognised by their keys and still load.

Resume rules, the same for both regimes: a directory that holds a run is never overwritten
(``--resume`` continues it); ``--resume`` of a folder without a run, or of a finished run with
the same budget, is refused with the reason; a resumed run takes the options it was started
with, and only those in :data:`RESUME_FREE` may differ (they change how a run is watched or
where it runs, not what it computes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from envs.utils import atomic_write

Regime = Literal["supervised", "ppo"]
RUN_CONFIG = "config.json"
FORMAT = 2

#: Options that may differ between a run and its ``--resume``: where it runs and how it is
#: watched, never what it computes.
RESUME_FREE: frozenset[str] = frozenset(
    {
        "resume",
        "out",  # a run directory may be moved or copied and resumed there
        "progress",
        "device",
        "threads",
        "rollout_threads",
        "update_threads",
        "tensorboard",
        "checkpoint_seconds",
        "wandb",
        "wandb_project",
        "compile",
        "eval_every_s",
        "eval_every_steps",  # a grown --timesteps moves its default; never what a run trains
        "keep_every",
    }
)
#: Budget fields that may grow on resume, per regime. A supervised run's learning-rate schedule
#: follows its budget, so a longer budget would not reproduce an uninterrupted run.
BUDGET_FREE: dict[str, frozenset[str]] = {
    "supervised": frozenset(),
    "ppo": frozenset({"minutes", "timesteps"}),
}


def write_config(run_dir: Path, regime: Regime, config: Mapping[str, Any], **extra: Any) -> None:
    """Write ``config.json`` (atomically): the format, the regime, the config tree and extras."""
    payload = {"format": FORMAT, "regime": regime, "config": dict(config), **extra}
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    with atomic_write(Path(run_dir) / RUN_CONFIG) as f:
        json.dump(payload, f, indent=2, sort_keys=True)
        f.write("\n")


def regime_of(stored: Mapping[str, Any]) -> Regime | None:
    """The regime of a ``config.json`` dict (format 2, or recognised by a format-1 layout)."""
    regime = stored.get("regime")
    if regime in ("supervised", "ppo"):
        return regime  # type: ignore[return-value]
    if "ppo" in stored and "algorithm" in stored:
        return "ppo"
    if "train" in stored and "model" in stored and "data" in stored:
        return "supervised"
    return None


_COMMANDS = {"supervised": "trm-rl train-supervised", "ppo": "trm-rl train-ppo"}
_READERS = {"supervised": "trm-rl evaluate / solve", "ppo": "trm-rl evaluate-ppo / load_agent"}


def read_config(run_dir: str | Path, regime: Regime | None = None) -> dict[str, Any]:
    """``config.json`` of a run, checked to be a run of ``regime`` (any when None).

    :raises ValueError: for a folder that is not a run, an unreadable or edited file, or a run
        of the other regime (naming the command that made it and the one that reads it).
    """
    run_dir = Path(run_dir)
    path = run_dir / RUN_CONFIG
    want = _COMMANDS.get(regime or "", "trm-rl train-supervised or train-ppo")
    if not run_dir.is_dir():
        raise ValueError(f"{str(run_dir)!r} is not a folder; pass the --out folder of {want}")
    try:
        stored = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(
            f"{str(run_dir)!r} is not a run directory (no {RUN_CONFIG}); pass the --out folder "
            f"of {want}"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(
            f"cannot read {str(path)!r} ({e}); the file is damaged: restore it from the run's "
            "copy or train again"
        ) from None
    if not isinstance(stored, dict):
        raise ValueError(f"{str(path)!r} is not a run config (a JSON object); was it edited?")
    found = regime_of(stored)
    if found is None:
        raise ValueError(
            f"{str(path)!r} is not the config of a trm-rl run (no regime, no known layout); "
            "was it edited?"
        )
    if regime is not None and found != regime:
        raise ValueError(
            f"{str(run_dir)!r} is a {found} run (made by {_COMMANDS[found]}); read it with "
            f"{_READERS[found]}, not with the {regime} commands"
        )
    return stored


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr": 1}}`` -> ``{"optim.lr": 1}`` (lists kept as values)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def check_resume(stored: Mapping[str, Any], now: Mapping[str, Any], regime: Regime) -> None:
    """Refuse a resume whose config differs from the run's in anything but the free options.

    :param stored: the run's config tree (``config.json``'s ``"config"``).
    :param now: the config tree the resume command resolves to.
    :raises ValueError: listing every differing option and what to do.
    """
    free = RESUME_FREE | BUDGET_FREE[regime]
    old, new = flatten(stored), flatten(now)
    differ = [
        f"{k}: run {old.get(k)!r} vs now {new.get(k)!r}"
        for k in sorted(set(old) | set(new))
        if k.split(".")[0] not in free and _norm(old.get(k)) != _norm(new.get(k))
    ]
    if differ:
        raise ValueError(
            "--resume continues a run with its own options, but these differ: "
            + "; ".join(differ)
            + ". Give the run's options (or start a new run with another --out)"
        )


def _norm(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def check_fresh(run_dir: Path, resume: bool, has_state: bool) -> None:
    """Refuse to start over a run, or to resume where there is none.

    :param has_state: whether the folder holds a checkpoint of a run.
    """
    exists = (Path(run_dir) / RUN_CONFIG).exists() or has_state
    if resume and not (Path(run_dir) / RUN_CONFIG).exists():
        raise ValueError(
            f"--resume: {str(run_dir)!r} holds no run (no {RUN_CONFIG}); drop --resume to start one"
        )
    if not resume and exists:
        raise ValueError(
            f"{str(run_dir)!r} already holds a run; pass --resume to continue it, or choose "
            "another --out (nothing is overwritten)"
        )


def refuse_finished(done: bool, budget: str) -> None:
    """Refuse to resume a run that has already spent its budget."""
    if done:
        raise ValueError(
            f"--resume: the run already finished its budget ({budget}); its results are in "
            "place. Evaluate it, or raise the budget to train on (PPO), or start a new run"
        )


class RunProgress:
    """A rich progress bar over a run's budget with ETA and a status text; silent when off."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.enabled = enabled
        if not enabled:
            return
        self.bar = Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
        )
        self.task = self.bar.add_task(label, total=1000, status="")
        self.bar.start()

    def update(self, fraction: float, status: str) -> None:
        """Show the fraction of the budget spent and a status text."""
        if self.enabled:
            done = int(1000 * min(1.0, max(0.0, fraction)))
            self.bar.update(self.task, completed=done, status=status)

    def log(self, text: str) -> None:
        """Print a line above the bar."""
        if self.enabled:
            self.bar.console.log(text)

    def close(self) -> None:
        """Stop the bar (full)."""
        if self.enabled:
            self.bar.update(self.task, completed=1000)
            self.bar.stop()
            self.enabled = False


__all__ = [
    "BUDGET_FREE",
    "FORMAT",
    "RESUME_FREE",
    "RUN_CONFIG",
    "RunProgress",
    "check_fresh",
    "check_resume",
    "flatten",
    "read_config",
    "refuse_finished",
    "regime_of",
    "write_config",
]
