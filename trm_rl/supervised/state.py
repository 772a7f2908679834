"""Resumable training checkpoints of a supervised run (``config.json`` and the resume rules
are :mod:`trm_rl.runs`'s).

A run directory holds::

    config.json          the run: train options, data config, model config (written once)
    metrics.csv          one row per log event (see trm_rl.supervised.metrics)
    events.out.tfevents* TensorBoard scalars
    snapshots/step-N/    the evaluated weights kept every ``keep_every`` steps (studies score them)
    checkpoint/          model.safetensors + config.json: the weights to evaluate (the EMA
                         weights when EMA is on), loadable with trm_rl.model.checkpoint
                         train_state_rank{r}.pt: raw weights, EMA, optimizer, step, RNG states,
                         the sampler state and the ACT carry of rank r (torch.load weights_only)

The checkpoint folder is replaced as a whole: the new one is written beside it as
``checkpoint.tmp``, the old one renamed ``checkpoint.old``, the new one renamed into place and the
old one removed. A crash at any point leaves one complete checkpoint (``checkpoint`` or, between
the two renames, ``checkpoint.old``, which :func:`latest_checkpoint` falls back to), never a mix
of two saves.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch

from envs.utils import atomic_write_file
from trm_rl.model.checkpoint import save_checkpoint

CHECKPOINT = "checkpoint"
SNAPSHOTS = "snapshots"


def snapshot_name(step: int) -> str:
    """The folder name of the snapshot kept at ``step`` (sorts by step)."""
    return f"step-{int(step):08d}"


def keep_snapshot(run_dir: Path, step: int, model: torch.nn.Module) -> Path:
    """Keep the evaluated weights of ``step`` in ``snapshots/step-N/`` (written beside it and
    renamed into place, replacing a snapshot of that step)."""
    final = Path(run_dir) / SNAPSHOTS / snapshot_name(step)
    tmp = final.with_name(final.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    save_checkpoint(model, tmp)
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


def drop_snapshots_after(run_dir: Path, step: int) -> None:
    """Remove the snapshots a killed run kept after its last checkpoint (``step``): the resumed
    run keeps them again from the weights it retrains, so a snapshot always matches the run's
    ``metrics.csv``."""
    for kept, folder in snapshots(run_dir):
        if kept > step:
            shutil.rmtree(folder)


def snapshots(run_dir: Path) -> list[tuple[int, Path]]:
    """``(step, folder)`` of every complete snapshot of a run, by step."""
    folder = Path(run_dir) / SNAPSHOTS
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("step-*")):
        name = path.name.removeprefix("step-")
        if name.isdigit() and (path / "model.safetensors").is_file():
            found.append((int(name), path))
    return found


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The complete checkpoint folder of a run: ``checkpoint``, else ``checkpoint.old`` (left by
    a crash between the two renames of a save), else None."""
    for name in (CHECKPOINT, CHECKPOINT + ".old"):
        folder = Path(run_dir) / name
        if (folder / "model.safetensors").is_file():
            return folder
    return None


def staging_folder(run_dir: Path, create: bool = True) -> Path:
    """``checkpoint.tmp``, emptied and created (when ``create``), where a new checkpoint is
    written before :func:`swap_in`."""
    tmp = Path(run_dir) / (CHECKPOINT + ".tmp")
    if create:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    return tmp


def swap_in(run_dir: Path, tmp: Path) -> Path:
    """Replace ``checkpoint`` by the complete folder ``tmp``: old -> ``checkpoint.old``, new ->
    ``checkpoint``, then the old one is removed. Returns the checkpoint folder."""
    run_dir = Path(run_dir)
    final, old = run_dir / CHECKPOINT, run_dir / (CHECKPOINT + ".old")
    if old.exists() and final.exists():
        shutil.rmtree(old)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    if old.exists():
        shutil.rmtree(old)
    return final


def save_checkpoint_folder(run_dir: Path, write: Any) -> Path:
    """Write a new checkpoint folder with ``write(folder)`` and swap it into place.

    :param run_dir: the run directory.
    :param write: a function that writes every file of the checkpoint into the folder it gets.
    :return: the checkpoint folder.
    """
    tmp = staging_folder(run_dir)
    write(tmp)
    return swap_in(run_dir, tmp)


def save_train_state(folder: Path, rank: int, state: dict[str, Any]) -> None:
    """Write one rank's training state (tensors, numbers, strings, lists and dicts only)."""
    atomic_write_file(folder / f"train_state_rank{rank}.pt", lambda tmp: torch.save(state, tmp))


def load_train_state(folder: Path, rank: int, device: torch.device) -> dict[str, Any]:
    """Read one rank's training state without unpickling code.

    :raises ValueError: when the file is missing or unreadable.
    """
    path = Path(folder) / f"train_state_rank{rank}.pt"
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise ValueError(
            f"{str(path)!r} is missing: the checkpoint was written by a run with fewer "
            "processes; resume with the same number of processes"
        ) from None
    except Exception as e:  # torch raises several types for corrupt files
        raise ValueError(f"cannot read training state {str(path)!r}: {e}") from None
