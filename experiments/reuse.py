"""Reuse of identical finished runs across studies: a sweep copies a finished run of another
study whose training config equals a pending run's (every field but :data:`REUSE_FREE`) and whose
weights are on disk, instead of training it again; the copy is then only scored.

``think_longer`` trains the same 11x11 maze runs as ``k_cycles`` (same seeds, data, model,
optimiser, steps, validation and snapshot points) and scores them on more targets: run after
``k_cycles`` on the same disk, it trains nothing. PPO runs are reused the same way (``ablations
--preset cpu-ppo`` shares its base and carry runs with ``k_cycles --preset cpu-ppo``): a finished
run with its agents on disk and as many env steps as the budget. Git keeps only each run's
``result.json``, so on a fresh clone without the weights the runs are trained.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from envs.utils import atomic_write
from experiments.studies import RunSpec
from trm_rl import runs
from trm_rl.policies.config import PPOConfig
from trm_rl.policies.train import stored_ppo_config, timesteps_done
from trm_rl.supervised import state as run_state
from trm_rl.supervised.config import TrainConfig, stored_train_config
from trm_rl.supervised.trainer import steps_done

#: A run's sweep result (written by ``experiments.sweep``) and its rows.
RESULT = "result.json"
ROWS = "rows.csv"
#: In a run folder copied from a donor: ``{"reused_from": "<donor folder>"}``.
REUSED = "reused.json"


def _result(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / RESULT).read_text())
    except (OSError, ValueError):
        return None


#: TrainConfig fields that do not change what a run trains: where it is written and how it is
#: watched. All others must be equal for a finished run to stand in for another: seed, data,
#: model, optimiser, steps, minutes, eval_every, eval_size and keep_every (the scored snapshot
#: is chosen on validation), device and compile (they change the arithmetic).
REUSE_FREE = frozenset({"out", "resume", "progress", "threads", "tensorboard",
                        "checkpoint_seconds", "rollout_threads", "update_threads", "wandb",
                        "wandb_project"})  # fmt: skip


def training_key(config: TrainConfig | PPOConfig) -> str:
    """What a supervised or PPO config trains, as canonical JSON: its regime and every field but
    :data:`REUSE_FREE`."""
    tree = {k: v for k, v in config.to_dict().items() if k not in REUSE_FREE}
    tree["regime"] = "ppo" if isinstance(config, PPOConfig) else "supervised"
    return json.dumps(tree, sort_keys=True, default=str)


def _budget(config: TrainConfig | PPOConfig) -> int | None:
    """A config's budget in steps (optimiser or env steps; None: a wall-clock budget)."""
    if isinstance(config, PPOConfig):
        return config.timesteps if config.minutes is None else None
    return config.steps


def _stored_key(run_dir: Path) -> tuple[str, str]:
    """(regime, training key) of the run in ``run_dir``.

    :raises ValueError, TypeError, KeyError: for a folder that is not a run this version reads.
    """
    stored = runs.read_config(run_dir)
    if runs.regime_of(stored) == "ppo":
        return "ppo", training_key(stored_ppo_config(stored))
    return "supervised", training_key(stored_train_config(stored))


def find_donors(
    specs: Iterable[RunSpec], out: Path, reuse_from: Sequence[str | Path] = ()
) -> dict[str, Path]:
    """The donor of every run of ``specs`` (supervised or PPO, budgeted in steps) that has not
    started in ``out`` and has an identical finished run elsewhere (see the module docstring).
    Reads only.

    :param reuse_from: folders searched first (study folders, or run folders); then the study
        folders beside ``out``.
    :return: run name -> donor run folder.
    :raises ValueError: for a ``reuse_from`` that is not a folder.
    """
    for folder in reuse_from:
        if not Path(folder).is_dir():
            raise ValueError(f"--reuse-from {folder}: not a folder; pass a study's folder")
    wanted: dict[str, list[RunSpec]] = {}
    for spec in specs:
        if _budget(spec.config) is not None and _unstarted(Path(out) / spec.name):
            wanted.setdefault(training_key(spec.config), []).append(spec)
    donors: dict[str, Path] = {}
    for run_dir in _candidate_runs(Path(out), reuse_from) if wanted else ():
        try:
            regime, key = _stored_key(run_dir)
        except (ValueError, TypeError, KeyError):
            continue  # not a run (or one this version cannot read)
        if key not in wanted:
            continue
        config = wanted[key][0].config
        done = (
            _finished_ppo(run_dir, config)
            if regime == "ppo"
            else _finished_with_weights(run_dir, config)
        )
        if done:
            donors.update((spec.name, run_dir) for spec in wanted.pop(key))
    return donors


def _unstarted(run_dir: Path) -> bool:
    """No run in ``run_dir``: it is missing or holds only a failed attempt's result."""
    return not run_dir.exists() or {p.name for p in run_dir.iterdir()} <= {RESULT, ROWS}


def _candidate_runs(out: Path, reuse_from: Sequence[str | Path]) -> Iterable[Path]:
    """Run folders (holding a ``config.json``) of ``reuse_from``, then of the study folders
    beside ``out``, each once, none of ``out`` itself."""
    here = out.resolve()
    beside = sorted(p for p in out.parent.iterdir() if p.is_dir()) if out.parent.is_dir() else []
    seen = {here}
    for root in [Path(f) for f in reuse_from] + beside:
        try:
            found = [root] if (root / runs.RUN_CONFIG).is_file() else sorted(root.iterdir())
        except OSError:
            continue
        for run_dir in found:
            real = run_dir.resolve()
            if real in seen or real.parent == here or not (run_dir / runs.RUN_CONFIG).is_file():
                continue
            seen.add(real)
            yield run_dir


def _finished_with_weights(run_dir: Path, cfg: TrainConfig) -> bool:
    """Whether ``run_dir`` is a done sweep run with its weights: ``checkpoint/`` at ``cfg``'s
    step budget, ``metrics.csv`` and a snapshot at every step the trainer keeps one."""
    result = _result(run_dir)
    if result is None or result.get("status") != "done" or cfg.steps is None:
        return False
    if not (run_dir / run_state.CHECKPOINT / "model.safetensors").is_file():
        return False
    try:
        if steps_done(run_dir) < cfg.steps:
            return False
    except (OSError, ValueError, RuntimeError):
        return False
    every = cfg.keep_every
    kept = {step for step, _ in run_state.snapshots(run_dir)}
    needed = set(range(every, cfg.steps + 1, every)) | {cfg.steps} if every else set()
    return needed <= kept and (run_dir / "metrics.csv").is_file()


def _finished_ppo(run_dir: Path, cfg: PPOConfig) -> bool:
    """Whether ``run_dir`` is a done sweep PPO run with its agent at ``cfg``'s env-step budget
    and its ``metrics.csv`` (its best and step-0 agents, when it kept them, are copied too)."""
    result = _result(run_dir)
    if result is None or result.get("status") != "done" or cfg.timesteps is None:
        return False
    try:
        return timesteps_done(run_dir) >= cfg.timesteps and (run_dir / "metrics.csv").is_file()
    except (OSError, ValueError, KeyError):
        return False


def _copy_config(donor: Path, tmp: Path, run_dir: Path) -> str:
    """Write the donor's ``config.json`` into ``tmp`` with ``out`` rewritten to ``run_dir``.

    :return: the donor's regime, ``"ppo"`` or ``"supervised"``.
    """
    stored = runs.read_config(donor)
    regime = "ppo" if runs.regime_of(stored) == "ppo" else "supervised"
    extra = {k: v for k, v in stored.items() if k not in ("format", "regime", "config")}
    runs.write_config(tmp, regime, {**stored["config"], "out": str(run_dir)}, **extra)
    return regime


def copy_run(donor: Path, run_dir: Path) -> None:
    """Copy the donor's run (``config.json`` with ``out`` rewritten, ``metrics.csv``,
    ``checkpoint/``, its snapshots, TensorBoard events; a PPO run's agents and held-out split)
    and a ``reused.json`` naming it into a folder beside ``run_dir``, then rename that into
    place (replacing a failed attempt's result, all ``run_dir`` may hold).

    :raises ValueError: when ``run_dir`` holds a run already.
    """
    if not _unstarted(run_dir):
        raise ValueError(f"{run_dir} holds a run already; it is continued, not replaced")
    tmp = run_dir.with_name(run_dir.name + ".reuse-tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    if _copy_config(donor, tmp, run_dir) == "ppo":
        # every file but the sweep's own: agents, held-out split, metrics, events
        for path in donor.iterdir():
            if path.name in (runs.RUN_CONFIG, RESULT, ROWS, REUSED):
                continue
            if path.is_dir():
                shutil.copytree(path, tmp / path.name)
            else:
                shutil.copy2(path, tmp)
    else:
        shutil.copy2(donor / "metrics.csv", tmp)
        shutil.copytree(donor / run_state.CHECKPOINT, tmp / run_state.CHECKPOINT)
        for _, folder in run_state.snapshots(donor):
            shutil.copytree(folder, tmp / run_state.SNAPSHOTS / folder.name)
        for events in donor.glob("events.out.tfevents*"):
            shutil.copy2(events, tmp)
    with atomic_write(tmp / REUSED) as f:
        json.dump({"reused_from": str(donor)}, f)
    if run_dir.exists():
        for stale in run_dir.iterdir():
            stale.unlink()
        run_dir.rmdir()
    tmp.rename(run_dir)


def reused_from(run_dir: Path) -> str | None:
    """The donor a run folder was copied from (None: trained here)."""
    try:
        return str(json.loads((Path(run_dir) / REUSED).read_text())["reused_from"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def reuse_donors(donors: Mapping[str, Path], out: Path) -> set[str]:
    """Copy every donor into its run's folder; a copy that fails is reported and the run
    trains. Returns the names of the runs copied."""
    copied = set()
    for name, donor in donors.items():
        try:
            copy_run(donor, out / name)
        except (OSError, ValueError, KeyError) as err:
            print(f"warning: not reusing {donor} for {name} ({type(err).__name__}: {err}); "
                  "training it", flush=True)  # fmt: skip
            shutil.rmtree(out / (name + ".reuse-tmp"), ignore_errors=True)
            continue
        print(f"reusing {donor} (identical config) for {name}", flush=True)
        copied.add(name)
    return copied


__all__ = ["REUSE_FREE", "copy_run", "find_donors", "reuse_donors", "reused_from", "training_key"]
