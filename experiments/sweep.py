"""Run a study (``experiments/studies.py``) on local worker processes or a Ray cluster.

``trm-rl sweep k_cycles --preset cpu-quick [--out DIR] [--dry-run] [--workers N]
[--ray-address auto|HOST:PORT|local]`` (``DIR`` defaults to ``results/<study>``):

1. The study's preset expands into runs (:class:`~experiments.studies.RunSpec`). ``--dry-run``
   prints them with their budgets, the total CPU-minutes and the estimated wall time, checks
   that every config builds (data, model, env), and stops.
2. Every run trains in a worker (one torch thread, no progress bar) through the library's own
   entry points (``train`` / ``train_ppo``) into ``DIR/<run>/``, then is evaluated
   (``evaluate_run`` on the test split and the study's other data; ``evaluate_ppo`` on the test
   puzzles, its JSON beside the run as ``DIR/<run>.json``), and writes ``DIR/<run>/result.json``
   (atomically): its ``runs.csv`` and ``curves.csv`` rows and its status; its tidy rows also go
   to ``DIR/<run>/rows.csv``.
3. The parent adds estimated training FLOPs (``flops``: per-step FLOPs of the run's config,
   counted by :mod:`trm_rl.flops`, x its steps) and, for supervised runs, ``eval_flops`` (one
   test puzzle) to the rows; after every run it rewrites ``DIR/runs.csv`` and
   ``DIR/curves.csv`` (atomically, sorted by run) from the ``result.json`` files, and at the
   end draws ``DIR/plots/`` and ``DIR/report.md`` with :func:`experiments.plot.plot_study`.

Resuming: a run whose ``result.json`` says ``done`` is skipped, so running the same command
again after an interruption runs only what is missing; a run directory without it is continued
by its trainer (``resume=True``). A failing run is reported (a ``failed: <Error>: <message>``
row, printed too) and the others go on; failed runs are tried again on the next invocation.
``DIR/sweep.json`` records the study and preset: another preset needs another ``--out``.

Reuse: before a supervised run starts (its folder holds no ``config.json``), the parent looks
for a donor, a finished run with the same training config (every field but
:data:`REUSE_FREE`, read back through :class:`TrainConfig`) in the other study folders beside
``DIR`` (``results/k_cycles/*`` for ``results/think_longer``) or in ``--reuse-from DIR ...``:
its ``result.json`` says ``done`` and its weights are on disk (``checkpoint/`` at its step
budget and every snapshot it kept). The donor's ``config.json`` (``out`` rewritten),
``metrics.csv``, ``checkpoint/``, ``snapshots/`` and TensorBoard events are copied into a
folder beside the run's and renamed into place, with ``reused.json`` naming the donor; the
worker then finds a complete run and only scores it. ``result.json`` and the rows record
``reused_from``; ``minutes`` stays the donor's training time (from its ``metrics.csv``),
``wall_minutes`` is this sweep's scoring time. ``--no-reuse`` trains every run. The parent
looks once when the sweep starts, and the worker looks again just before a run starts
(:func:`run_reusing`), so two studies swept at the same time share the runs one of them
finishes first.

Workers: ``--workers 1`` runs in this process; more use a ``spawn`` process pool. With
``--ray-address`` the runs are Ray tasks (one CPU each; one GPU each for GPU presets on a
cluster with GPUs): ``local`` starts a Ray instance on this machine, ``auto`` or ``HOST:PORT``
joins a cluster whose nodes have this package installed. Results come back to the driver, which
writes ``result.json`` and the CSVs; run directories stay where the task ran (use a shared
filesystem for ``DIR`` to keep checkpoints, TensorBoard events and resumption across nodes).
"""

from __future__ import annotations

import csv
import functools
import json
import math
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

import gymnasium as gym
import torch
import tyro

from envs.utils import atomic_write, check_int
from experiments import equal_flops
from experiments.collect import CURVE_FIELDS, TEST_STEPS_METRIC, rounded, write_csv
from experiments.plot import plot_study, summary_tables
from experiments.ppo_results import LAST_LABEL, run_rows, task_of
from experiments.reuse import RESULT, ROWS, find_donors, reuse_donors, reused_from
from experiments.stats import binomial_se
from experiments.studies import RunSpec, get_study, target_data
from trm_rl import runs
from trm_rl.data.build import grid_info
from trm_rl.data.config import DataConfig
from trm_rl.flops import puzzle_flops, run_flops
from trm_rl.policies.config import make_env_spec
from trm_rl.policies.train import (
    BEST_AGENT,
    evaluate_ppo,
    read_ppo_config,
    timesteps_done,
    train_ppo,
)
from trm_rl.supervised import state as run_state
from trm_rl.supervised.commands import evaluate_run
from trm_rl.supervised.config import TrainConfig
from trm_rl.supervised.trainer import steps_done, train
from trm_rl.tracking import check_wandb

#: ``runs.csv``: the columns ``experiments/plot.py`` reads, then extra ones.
RUN_FIELDS = [
    "study", "run", "regime", "task", "variant", "group", "K", "seed", "params", "minutes",
    "steps", "flops", "score", "score_name", "success", "length_ratio", "think_steps",
    "random_score", "oracle_score", "status",
]  # fmt: skip
EXTRA_FIELDS = [
    "eval_flops", "valid", "score_halt", "steps_halt", "puzzles", "stochastic_score",
    "full_thinking_score", "full_thinking_steps", "episodes", "pretrain_minutes", "wall_minutes",
    "score_se", "score_last", "chosen_step", "reused_from",
]  # fmt: skip
MANIFEST = "sweep.json"
RAY_EXTRA = "the Ray path needs the ray extra: pip install -e '.[ray]'"
Result = dict[str, Any]


@dataclass
class SweepOptions:
    """Options of a sweep (the study scripts experiments/<study>.py take these)."""

    preset: str
    """cpu-quick (k_cycles only, the main job: about 4 minutes on 2 cores), cpu-full (5 seeds,
    step budgets; k_cycles about 16 CPU-hours, --dry-run prints the estimate), cpu-core
    (ablations: the paper's four on 11x11 mazes), cpu-ppo (PPO from scratch on 7x7 mazes at
    equal env steps: k_cycles' policies, or ablations' carry, ACT thinking and shaping) or
    gpu-paper (the paper's models, device auto, bf16); see experiments/studies.py."""
    out: Path | None = None
    """Study directory (default: results/<study>; cpu-ppo: results/<study>-ppo): a
    folder per run, runs.csv, curves.csv, plots/, report.md. Running again resumes: finished
    runs are skipped."""
    dry_run: bool = False
    """Print the runs, their budgets, the total CPU-minutes and the estimated wall time, check
    that every config builds, and run nothing."""
    report_only: bool = False
    """Run nothing: rebuild runs.csv, curves.csv, equal_flops.csv (from each run's cached
    score), plots/ and report.md from the runs finished so far (a study spanning sessions)."""
    workers: int = 2
    """Runs at once on this machine, one thread each (1: in this process)."""
    ray_address: str | None = None
    """Run on Ray instead: 'local' (a Ray instance on this machine), 'auto' or HOST:PORT (a
    cluster whose nodes have this package; needs pip install -e '.[ray]')."""
    reuse: bool = True
    """Copy a finished run of another study with the same training config (seed, data, model,
    optimiser, steps, validation and snapshot points) and its weights on disk, found in the
    study folders beside --out and in --reuse-from, instead of training it again; the copy is
    scored as usual. --no-reuse trains every run."""
    reuse_from: Annotated[tuple[Path, ...], tyro.conf.arg(metavar="DIR [DIR ...]")] = ()
    """Study folders (or run folders) to take finished identical runs from, searched before
    the study folders beside --out."""
    wandb: bool = False
    """Also log every run's metrics and config to Weights & Biases (project trm-rl-<study>, a
    W&B run per run; pip install -e '.[wandb]'; WANDB_MODE=offline keeps them on disk)."""


@dataclass
class SweepArgs(SweepOptions):
    """Run a study (a base config x a grid x seeds) on local workers or a Ray cluster; write
    runs.csv, curves.csv, plots/ and report.md into its directory."""

    study: tyro.conf.Positional[Annotated[str, tyro.conf.arg(metavar="STUDY")]] = field(
        kw_only=True
    )
    """k_cycles, think_longer or ablations (experiments/studies.py)."""


# ----------------------------------------------------------------------------- expansion
def expand(study: str, preset: str) -> list[RunSpec]:
    """The runs of a study's preset.

    :raises ValueError: for an unknown study or preset, listing the known ones.
    """
    return get_study(study).expand(preset)


def build_config(
    spec: RunSpec, run_dir: str | Path | None = None, resume: bool = False, wandb: bool = False
) -> Any:
    """The :class:`TrainConfig` (supervised) or :class:`PPOConfig` (ppo) of a run, as the
    worker trains it: one thread, no progress bar.

    :param run_dir: its ``--out`` (default ``runs/<name>``; only the runner writes there).
    :param wandb: also log it to W&B, in the project ``trm-rl-<study>``.
    """
    out = Path(run_dir or Path("runs") / spec.name)
    common = {"out": out, "resume": resume, "progress": False, "wandb": wandb,
              "wandb_project": f"trm-rl-{spec.study}"}  # fmt: skip
    if isinstance(spec.config, TrainConfig):
        return replace(spec.config, threads=1, **common)
    return replace(spec.config, rollout_threads=1, update_threads=1, **common)


def check_spec(spec: RunSpec, cache: dict[Any, Any] | None = None) -> None:
    """Check what a run needs before training (its data source and grid, or its env), without
    training: a bad config fails here instead of hours into a sweep.

    :param cache: reused across calls (data sources already checked).
    :raises ValueError: naming the run and the problem.
    """
    cache = {} if cache is None else cache
    cfg = build_config(spec)
    try:
        if isinstance(cfg, TrainConfig):
            if cfg.data not in cache:
                cache[cfg.data] = grid_info(cfg.data)
            grid = cache[cfg.data]
            if cfg.model.seq_len != grid.cells or cfg.model.vocab_size != grid.vocab_size:
                raise ValueError(
                    f"the model is built for {cfg.model.seq_len} cells and "
                    f"{cfg.model.vocab_size} tokens, the data has {grid.cells} and "
                    f"{grid.vocab_size}; fix it in experiments/studies.py"
                )
        else:
            make_env_spec(cfg.env.id, cfg.env.kwargs)
    except ValueError as err:
        raise ValueError(f"run {spec.name}: {err}") from None


# --------------------------------------------------------------------------------- worker
def run_reusing(
    run: Callable[..., Result],
    spec: RunSpec | dict[str, Any],
    out_dir: str | Path,
    reuse_from: Sequence[str] = (),
) -> Result:
    """``run(spec, out_dir)`` after a last look for a donor of ``spec`` (one finished since the
    sweep started, e.g. by another sweep running beside this one): if there is one, it is copied
    into the run's folder first, so ``run`` only scores it. Runs in the worker; a run already
    started, or a failed lookup, trains as usual.

    :param run: the runner (:func:`run_one`, or a test's).
    :param reuse_from: as ``--reuse-from``.
    """
    obj = spec if isinstance(spec, RunSpec) else RunSpec.from_dict(spec)
    try:
        donors = find_donors([obj], Path(out_dir), reuse_from)
    except (OSError, ValueError) as err:
        print(f"warning: no donor lookup for {obj.name} ({err}); training it", flush=True)
        donors = {}
    reuse_donors(donors, Path(out_dir))
    return run(spec, out_dir)


def run_one(spec: RunSpec | dict[str, Any], out_dir: str | Path, wandb: bool = False) -> Result:
    """Train and evaluate one run in ``out_dir/<name>`` and write its ``result.json``.

    Never raises for a failing run: the error becomes a ``failed: <Error>: <message>`` row
    (the traceback is kept in ``result.json``).

    :param spec: the run (or its :meth:`RunSpec.to_dict`, as sent to a worker).
    :param out_dir: the study directory.
    :param wandb: also log the run to W&B (``--wandb``).
    :return: ``{"spec", "status", "rows", "curves", "wall_minutes", "traceback"}``.
    """
    spec = spec if isinstance(spec, RunSpec) else RunSpec.from_dict(spec)
    run_dir = Path(out_dir) / spec.name
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        train_and_score = _supervised if spec.regime == "supervised" else _ppo
        rows, curves = train_and_score(spec, run_dir, wandb)
        result = {"spec": spec.to_dict(), "status": "done", "rows": rows, "curves": curves}
        donor = reused_from(run_dir)
        if donor is not None:  # copied from an identical finished run, not trained here
            result["reused_from"] = donor
            for row in rows:
                row["reused_from"] = donor
    except Exception as err:  # a failing run is reported and the sweep goes on
        result = failed_result(spec, err)
    finally:
        torch.set_num_threads(threads)
    result["wall_minutes"] = round((time.perf_counter() - start) / 60, 3)
    for row in result["rows"]:
        row["wall_minutes"] = result["wall_minutes"]
    write_result(Path(out_dir), result)
    return result


def failed_result(spec: RunSpec, err: BaseException) -> Result:
    """The result of a run that raised ``err``: one ``failed: <Error>: <message>`` row."""
    message = " ".join(str(err).split())
    status = f"failed: {type(err).__name__}: {message}"[:500]
    row = _common(spec) | {"run": spec.name, "task": spec.task, "status": status}
    return {
        "spec": spec.to_dict(),
        "status": status,
        "rows": [row],
        "curves": [],
        "wall_minutes": 0.0,
        "traceback": "".join(traceback.format_exception(err)),
    }


def add_flops(result: Result) -> bool:
    """Fill the ``flops`` column (estimated training FLOPs: per-step FLOPs of the run's config
    x its steps, :func:`trm_rl.flops.run_flops`) of a done result's rows and of its validation
    curve points and, for a supervised run's own row, ``eval_flops`` (forward FLOPs of one test
    puzzle at its supervision steps).

    An estimate that fails leaves the columns empty with a warning: FLOPs never fail a run.

    :return: whether a row changed (the caller rewrites ``result.json``).
    """
    if result["status"] != "done":
        return False
    spec = RunSpec.from_dict(result["spec"])
    rows = [r for r in result["rows"] if r.get("flops") in ("", None)]
    # PPO validation points written before they named their split (and had no flops column)
    # are validation curves too.
    points = [
        c
        for c in result["curves"]
        if c.get("flops") in ("", None)
        and (c.get("split") == "val" or (spec.regime == "ppo" and not c.get("split")))
    ]
    if not (rows or points):
        return False
    try:
        cfg = build_config(spec)
        for row in rows:
            row["flops"] = float(f"{run_flops(spec.regime, cfg, int(row['steps'])):.4g}")
            if spec.regime == "supervised" and row["run"] == spec.name and row["think_steps"]:
                row["eval_flops"] = float(f"{puzzle_flops(cfg, int(row['think_steps'])):.4g}")
        for point in points:  # the learning curve against training FLOPs
            point["flops"] = float(f"{run_flops(spec.regime, cfg, int(point['step'])):.4g}")
            point["split"] = "val"
    except Exception as err:  # an estimate, not a result: report it and go on
        print(f"warning: no FLOP estimate for {spec.name}: {type(err).__name__}: {err}")
        return any(row.get("flops") not in ("", None) for row in rows)
    return True


def flops_budgets(specs: Iterable[RunSpec]) -> dict[str, float]:
    """The equal-FLOPs budget of every supervised task of a plan (:func:`equal_flops.budgets`
    of the final training FLOPs each run will have), known before any run trains. Tasks whose
    FLOPs cannot be estimated get none."""
    finals = []
    for spec in specs:
        if spec.regime != "supervised" or spec.config.steps is None:
            continue
        try:
            flops = run_flops("supervised", build_config(spec), spec.config.steps)
        except Exception:  # an estimate: a run without one has no equal-FLOPs score
            continue
        finals.append({"regime": "supervised", "status": "done", "run": spec.name,
                       "task": spec.task, "variant": spec.variant,
                       "flops": f"{flops:.4g}"})  # fmt: skip
    return equal_flops.budgets(finals)


def write_result(out_dir: Path, result: Result) -> Path:
    """Write ``out_dir/<run>/result.json`` and the run's tidy rows, ``out_dir/<run>/rows.csv``
    (the columns of ``runs.csv``), atomically.

    :return: the path of ``result.json``.
    """
    path = Path(out_dir) / result["spec"]["name"] / RESULT
    write_csv(path.with_name(ROWS), result["rows"], RUN_FIELDS + EXTRA_FIELDS, extra=True)
    with atomic_write(path) as f:
        json.dump(result, f, indent=1)
    return path


def _common(spec: RunSpec) -> dict[str, Any]:
    return {"study": spec.study, "regime": spec.regime, "variant": spec.variant,
            "group": spec.group, "K": "" if spec.K is None else spec.K, "seed": spec.seed}  # fmt: skip


def _flops(cfg: TrainConfig, steps: int) -> float:
    """Training FLOPs of ``steps`` steps, rounded as the CSVs store them."""
    return float(f"{run_flops('supervised', cfg, steps):.4g}")


def choose_snapshot(val: dict[int, float], kept: list[int]) -> int | None:
    """The kept step with the best validation score (the latest of equals); None when no kept
    step has a validation score."""
    scored = [step for step in kept if step in val]
    if not scored:
        return None
    return max(scored, key=lambda step: (val[step], step))


def scorable_targets(spec: RunSpec) -> tuple[tuple[str, int | None], ...]:
    """The ``also`` targets a supervised run's model can be scored on: every one for a model
    that takes any grid size (conv mixer, DT-recall, conv net), only those of the training
    grid's size for a fixed-size model (attention or MLP mixer, the MLP baseline), whose cells
    on larger grids stay empty in the tables instead of failing the run."""
    if getattr(spec.config.model, "any_grid_size", False):
        return tuple(spec.also)
    cells = grid_info(spec.config.data).cells
    kept = []
    for data, n in spec.also:
        target = target_data(data)
        if isinstance(target, str):
            target = DataConfig(name=target)
        if grid_info(target).cells == cells:
            kept.append((data, n))
    return tuple(kept)


def _supervised(spec: RunSpec, run_dir: Path, wandb: bool = False) -> tuple[list[dict], list[dict]]:
    """Train (or continue) a supervised run; pick the kept snapshot with the best validation
    score, score it (and the last weights) on the test split, and it alone on ``also``."""
    cfg = build_config(spec, run_dir, resume=(run_dir / runs.RUN_CONFIG).exists(), wandb=wandb)
    if not (cfg.resume and cfg.steps is not None and steps_done(run_dir) >= cfg.steps):
        train(cfg)  # a run killed after training, before evaluation, is only evaluated
    with (run_dir / "metrics.csv").open(newline="") as f:
        metrics = list(csv.DictReader(f))
    val = {int(r["step"]): float(r["val/exact_accuracy"]) for r in metrics
           if r.get("val/exact_accuracy")}  # fmt: skip
    kept = [step for step, _ in run_state.snapshots(run_dir)]
    chosen = choose_snapshot(val, kept)

    def score(data: str | None, limit: int | None, snapshot: int | None, episodes: int = 0):
        return evaluate_run(run_dir, data, device=cfg.device, env_episodes=episodes,
                            limit=limit, snapshot=snapshot)  # fmt: skip

    best = score(None, spec.eval_limit, chosen, spec.eval_episodes)
    last = best if chosen is None or chosen == max(kept) else score(None, spec.eval_limit, None)
    reports = [(None, best)] + [
        (data, score(target_data(data), n, chosen)) for data, n in scorable_targets(spec)
    ]
    with atomic_write(run_dir / "evaluate.json") as f:
        json.dump({"chosen_step": chosen, "last": last,
                   **{data or r["data"]: r for data, r in reports}}, f, indent=1)  # fmt: skip
    if spec.flops_budget is not None and cfg.steps is not None:
        # Score the equal-FLOPs snapshot now, while the snapshots exist (the cache is kept).
        steps = steps_done(run_dir)
        equal_flops.score_run(
            run_dir, spec.flops_budget, steps, _flops(cfg, steps),
            [(step, _flops(cfg, step)) for step in kept],
            {"limit": spec.eval_limit, "device": cfg.device},
        )  # fmt: skip
    config = runs.read_config(run_dir, "supervised")
    end = metrics[-1] if metrics else {"time_s": "0", "step": "0"}
    rows = []
    for target, report in reports:
        env = report.get("env", {})
        n = report["count"]
        rows.append(_common(spec) | {
            "run": spec.name if target is None else f"{spec.name}.{target}",
            "task": spec.task if target is None else f"{target} (trained {spec.task})",
            "params": config["resolved"]["parameters"],
            "minutes": round(float(end["time_s"]) / 60, 2), "steps": int(end["step"]),
            "flops": "", "score": rounded(report["exact_accuracy"]),
            "score_name": "exact accuracy (test)", "success": rounded(env.get("success")),
            "length_ratio": rounded(env.get("length_over_optimal")),
            "think_steps": report["steps_no_halt"], "random_score": "", "oracle_score": "",
            "status": "done", "valid": rounded(report.get("valid")),
            "score_halt": rounded(report["exact_accuracy_halt"]),
            "steps_halt": rounded(report["steps_halt"]), "puzzles": n,
            "score_se": rounded(binomial_se(report["exact_accuracy"], n)),
            "chosen_step": "" if chosen is None else chosen,
            "score_last": rounded(last["exact_accuracy"]) if target is None else "",
        })  # fmt: skip
    curves = [
        _common(spec) | {
            "run": spec.name, "task": spec.task, "minutes": round(float(r["time_s"]) / 60, 3),
            "step": int(r["step"]), "examples": int(float(r.get("examples") or 0)),
            "flops": "", "split": "val", "metric": "val/score",
            "value": float(r["val/exact_accuracy"]),
        }
        for r in metrics
        if r.get("val/exact_accuracy")
    ]  # fmt: skip
    for row, (_, report) in zip(rows, reports, strict=True):  # thinking longer at test time
        curves += [
            _common(spec) | {"run": row["run"], "task": row["task"], "minutes": "", "step": i,
                             "split": "test", "metric": TEST_STEPS_METRIC, "value": value}
            for i, value in enumerate(report.get("exact_by_step", []), start=1)
        ]  # fmt: skip
    return rows, curves


def _ppo(spec: RunSpec, run_dir: Path, wandb: bool = False) -> tuple[list[dict], list[dict]]:
    """Train (or continue) a PPO run, play its test puzzles with the agent kept at its best
    validation (and the last agent beside it, greedy only; ``also`` envs with the best), and
    read its rows with :func:`experiments.ppo_results.run_rows` (which reads the JSON beside
    the run)."""
    cfg = build_config(spec, run_dir, resume=(run_dir / runs.RUN_CONFIG).exists(), wandb=wandb)
    if not (cfg.resume and cfg.timesteps is not None and timesteps_done(run_dir) >= cfg.timesteps):
        train_ppo(cfg)  # a run killed after training, before evaluation, is only evaluated
    config = read_ppo_config(run_dir)
    chosen = "best" if (run_dir / BEST_AGENT).exists() else "last"
    own = [(None, spec.eval_episodes, f"{spec.name}.json", chosen, spec.eval_stochastic)]
    if chosen == "best":
        own.append((None, spec.eval_episodes, f"{spec.name}.{LAST_LABEL}.json", "last", False))
    others = [(env, n or spec.eval_episodes, f"{spec.name}.{task_of(env)}.json", chosen,
               spec.eval_stochastic) for env, n in spec.also]  # fmt: skip
    for env, episodes, filename, checkpoint, stochastic in own + others:
        cap = None
        if spec.eval_steps_per_cell is not None and cfg.game == "maze":
            kwargs = config["eval_env_kwargs"] if env is None else {}
            grid = _grid_shape(env or cfg.env.id, kwargs)
            cap = math.ceil(spec.eval_steps_per_cell * grid[0] * grid[1])
        report = evaluate_ppo(run_dir, env, episodes=episodes, device=cfg.device, seed=0,
                              max_steps=cap, stochastic=stochastic,
                              checkpoint=checkpoint)  # fmt: skip
        with atomic_write(run_dir.parent / filename) as f:
            json.dump(report, f, indent=1)
    rows, curves = run_rows(run_dir, spec.study)
    labels = _common(spec)
    for row in rows:
        target = row["run"].partition(".")[2]
        row.update(labels, task=f"{target} (trained {spec.task})" if target else spec.task)
    for row in curves:
        row.update(labels, task=spec.task)
    return rows, curves


def _grid_shape(env_id: str, kwargs: dict[str, Any]) -> tuple[int, int]:
    env = gym.make(env_id, **kwargs)
    try:
        return tuple(env.observation_space["grid"].shape)  # type: ignore[return-value]
    finally:
        env.close()


# ----------------------------------------------------------------------------------- tables
def read_result(out_dir: Path, name: str) -> Result | None:
    """The ``result.json`` of a run (None when missing or unreadable)."""
    try:
        return json.loads((Path(out_dir) / name / RESULT).read_text())
    except (OSError, ValueError):
        return None


def _same_spec(stored: dict[str, Any], spec: RunSpec) -> bool:
    """Whether a stored run is ``spec``'s. The stored config is read back through its class
    first, so a field added to a config since (at its default) does not make a run stale."""
    mine = spec.to_dict()
    try:
        config = RunSpec.from_dict(stored).config.to_dict()
    except (ValueError, TypeError, KeyError):
        return False
    stored = {**stored, "config": json.loads(json.dumps(config))}
    return all(stored.get(k) == v for k, v in mine.items() if k not in _NOT_COMPARED)


#: RunSpec fields that do not make a finished run stale: the ETA, and the equal-FLOPs budget
#: (another plan may move it; the run is then scored again from its snapshots).
_NOT_COMPARED = ("est_minutes", "flops_budget")


def write_tables(out_dir: Path, specs: Iterable[RunSpec]) -> tuple[list[dict], list[dict]]:
    """Rewrite ``runs.csv`` and ``curves.csv`` (atomically, sorted by run) from the
    ``result.json`` files of ``specs``.

    :return: the rows and curve rows written.
    """
    rows, curves = [], []
    for spec in sorted(specs, key=lambda s: s.name):
        result = read_result(out_dir, spec.name)
        if result is not None:
            rows += sorted(result["rows"], key=lambda r: r["run"])
            curves += result["curves"]
    write_csv(Path(out_dir) / "runs.csv", rows, RUN_FIELDS + EXTRA_FIELDS, extra=True)
    write_csv(Path(out_dir) / "curves.csv", curves, CURVE_FIELDS, extra=False)
    return rows, curves


# ------------------------------------------------------------------------------------- plan
def wall_estimate(minutes: Iterable[float], workers: int) -> float:
    """Wall minutes of jobs of these lengths on ``workers`` workers, longest first."""
    loads = [0.0] * max(1, workers)
    for m in sorted(minutes, reverse=True):
        loads[loads.index(min(loads))] += m
    return max(loads)


def plan_lines(
    specs: list[RunSpec],
    workers: int,
    finished: set[str],
    donors: Mapping[str, Path] | None = None,
) -> list[str]:
    """The dry-run table: one line per run, then the totals.

    :param donors: runs that will be copied from a finished run (:func:`find_donors`), marked
        and left out of the estimates.
    """
    donors = donors or {}
    width = max([len(s.name) for s in specs] + [3])
    vwidth = max([len(s.variant) for s in specs] + [7])
    lines = [f"{'run':<{width}}  {'regime':<10}  {'task':<15}  {'variant':<{vwidth}}  seed  "
             "budget       est. min"]  # fmt: skip
    for s in specs:
        mark = "  (done)" if s.name in finished else ""
        if s.name in donors:
            mark = f"  (reuse {donors[s.name].parent.name}/{donors[s.name].name})"
        lines.append(
            f"{s.name:<{width}}  {s.regime:<10}  {s.task:<15}  {s.variant:<{vwidth}}  "
            f"{s.seed:>4}  {s.budget:<11}  {s.est_minutes:>8.2f}{mark}"
        )
    todo = [s for s in specs if s.name not in finished and s.name not in donors]
    cpu = sum(s.est_minutes for s in todo)
    wall = wall_estimate((s.est_minutes for s in todo), workers)
    reused = f", {len(donors)} reused" if donors else ""
    lines.append(
        f"total: {len(specs)} runs ({len(todo)} to run{reused}), budgets in steps: about "
        f"{_duration(cpu)} CPU time with validation and evaluation on this kind of machine; "
        f"estimated wall time {_duration(wall)} with {workers} worker{'s' if workers > 1 else ''}"
    )
    return lines


def _duration(minutes: float) -> str:
    return f"{minutes:.1f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


# ---------------------------------------------------------------------------------- running
def run_specs(
    specs: list[RunSpec],
    out: str | Path,
    workers: int = 2,
    ray_address: str | None = None,
    dry_run: bool = False,
    preset: str | None = None,
    runner: Callable[[RunSpec | dict[str, Any], str | Path], Result] | None = None,
    report_only: bool = False,
    reuse: bool = True,
    reuse_from: Sequence[str | Path] = (),
    wandb: bool = False,
) -> Path:
    """Run ``specs`` into ``out`` (see the module docstring), skipping finished runs.

    :param workers: local worker processes (1: in this process); Ray runs as many runs at once
        as the cluster has CPUs.
    :param ray_address: run on Ray: ``local``, ``auto`` or ``HOST:PORT`` (None: locally).
    :param dry_run: print the plan, check every config, run nothing.
    :param preset: the preset's name, recorded in ``sweep.json``.
    :param runner: the function that runs one spec (default :func:`run_one`; tests swap it).
    :param report_only: run nothing; rebuild the tables, plots and report from finished runs.
    :param reuse: copy identical finished runs of other studies instead of training them
        (:func:`find_donors`); False trains every run.
    :param reuse_from: folders searched for them first.
    :param wandb: log every run to W&B too (with the default runner).
    :return: ``out``.
    :raises ValueError: for bad arguments, invalid configs (dry run), or an ``out`` that holds
        another sweep.
    """
    workers = check_int("workers", workers, low=1)
    check_wandb(wandb and not dry_run and not report_only)
    if not specs:
        raise ValueError("no runs to sweep")
    out = Path(out)
    study = specs[0].study
    task_budget = flops_budgets(specs)
    specs = [
        replace(s, flops_budget=task_budget.get(s.task)) if s.regime == "supervised" else s
        for s in specs
    ]
    finished = _check_out(out, specs, study, preset)
    if reuse_from and not reuse:
        raise ValueError("--reuse-from and --no-reuse contradict each other; drop one")
    donors = {}
    if reuse and not report_only:
        donors = find_donors([s for s in specs if s.name not in finished], out, reuse_from)
    if dry_run:
        print(f"{study} --preset {preset or 'custom'}: {len(specs)} runs -> {out}")
        print("\n".join(plan_lines(specs, workers, finished, donors)))
        cache: dict[Any, Any] = {}
        problems = []
        for spec in specs:
            try:
                check_spec(spec, cache)
            except ValueError as err:
                problems.append(str(err))
        if problems:
            raise ValueError(f"{len(problems)} invalid configs:\n" + "\n".join(problems))
        print(f"all {len(specs)} configs build (data, model, env)")
        return out
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / MANIFEST) as f:
        json.dump({"study": study, "preset": preset, "runs": [s.to_dict() for s in specs]}, f,
                  indent=1)  # fmt: skip
    # Seed by seed (longest first within a seed): a study stopped half-way has every variant
    # at the same number of seeds, and the next invocation goes on from there.
    pending = sorted((s for s in specs if s.name not in finished and not report_only),
                     key=lambda s: (s.seed, -s.est_minutes))  # fmt: skip
    print(f"{study}: {len(specs)} runs, {len(finished)} already done, {len(pending)} to run"
          + (f" ({len(donors)} reused)" if donors else "") + f" -> {out}"
          + (f" on Ray ({ray_address})" if ray_address else f" ({workers} workers)"))  # fmt: skip
    reused = reuse_donors(donors, out)
    for name in sorted(finished):  # runs of an earlier version get their FLOP estimates
        result = read_result(out, name)
        if result is not None and add_flops(result):
            write_result(out, result)
    progress = _Progress(pending, workers, reused)

    def on_result(result: Result) -> None:
        add_flops(result)
        write_result(out, result)
        write_tables(out, specs)
        progress.report(result)

    run = runner or (functools.partial(run_one, wandb=True) if wandb else run_one)
    if reuse:  # a donor may finish while this sweep runs: look again as each run starts
        run = functools.partial(run_reusing, run, reuse_from=tuple(map(str, reuse_from)))
    try:
        if ray_address is not None:
            _run_ray(pending, out, ray_address, on_result, run, progress)
        elif workers == 1:
            for spec in pending:
                try:
                    result = run(spec, out)
                except Exception as err:  # run_one reports its failures; another runner may not
                    result = failed_result(spec, err)
                on_result(result)
        else:
            _run_pool(pending, out, workers, on_result, run)
    except KeyboardInterrupt:
        print(f"interrupted: run the same command again to resume ({out})", flush=True)
        raise
    rows, curves = write_tables(out, specs)
    done = sum(r["status"] == "done" for r in rows)
    print(f"{len(rows)} rows in {out / 'runs.csv'}: {done} done, {len(rows) - done} failed")
    if any(s.regime == "supervised" for s in specs):
        options = {s.name: {"limit": s.eval_limit, "device": s.config.device} for s in specs}
        scored = equal_flops.score_runs(out, rows, curves, options, task_budget=task_budget)
        print(f"{len(scored)} runs scored at equal training FLOPs: {out / 'equal_flops.csv'}")
    written = plot_study(out)
    if done:
        print(f"\n{summary_tables(out)}\n")
    print(f"report: {written['report'][0]}")
    for path in written["plots"]:
        print(f"plot: {path}")
    return out


def _check_out(out: Path, specs: list[RunSpec], study: str, preset: str | None) -> set[str]:
    """The names of the finished runs in ``out``; refuses an ``out`` of another sweep."""
    manifest = out / MANIFEST
    if not manifest.exists() and (out / "runs.csv").exists():
        raise ValueError(
            f"{out} holds a runs.csv but no {MANIFEST}: results of another sweep or copied "
            f"there; pass another --out (e.g. {out}-{preset}) so that they are not overwritten"
        )
    if manifest.exists():
        stored = json.loads(manifest.read_text())
        if (stored.get("study"), stored.get("preset")) != (study, preset):
            raise ValueError(
                f"{out} holds the sweep {stored.get('study')} --preset {stored.get('preset')}, "
                f"not {study} --preset {preset}; pass another --out (e.g. {out}-{preset}) or "
                "delete that folder"
            )
    finished, changed = set(), []
    for spec in specs:
        result = read_result(out, spec.name)
        if result is None or result["status"] != "done":
            continue  # failed runs are tried again, with the config they have now
        if _same_spec(result["spec"], spec):
            finished.add(spec.name)
        else:
            changed.append(spec.name)
    if changed:
        raise ValueError(
            f"{out} holds results of runs whose config has changed since ({changed[:3]}"
            f"{' ...' if len(changed) > 3 else ''}); delete those run folders to run them again "
            "or pass another --out"
        )
    return finished


def _init_worker() -> None:
    """Pool workers: one thread each (the runs share the cores)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")


def _run_pool(
    pending: list[RunSpec], out: Path, workers: int, on_result: Callable, run: Callable
) -> None:
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker)
    try:
        futures = {pool.submit(run, spec.to_dict(), str(out)): spec for spec in pending}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as err:  # the worker died (killed, out of memory)
                result = failed_result(futures[future], err)
            on_result(result)
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _call(run: Callable[..., Result], spec: dict[str, Any], out: str) -> Result:
    """``run(spec, out)``: the Ray task (``run`` travels as an argument)."""
    return run(spec, out)


def _run_ray(
    pending: list[RunSpec],
    out: Path,
    address: str,
    on_result: Callable,
    run: Callable,
    progress: _Progress,
) -> None:
    try:
        import ray
    except ImportError:
        raise ImportError(RAY_EXTRA) from None
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address)
        except ConnectionError as err:
            raise ValueError(
                f"cannot reach a Ray cluster at {address!r} ({err}); start one with `ray start "
                "--head` (then --ray-address auto), or use --ray-address local"
            ) from None
    try:
        resources = ray.cluster_resources()
        gpus = resources.get("GPU", 0) > 0
        progress.workers = max(1, int(resources.get("CPU", 1)))
        task = ray.remote(num_cpus=1)(_call)  # Ray wraps functions; ``run`` may be a partial
        refs = {}
        for spec in pending:
            on_gpu = gpus and spec.config.device != "cpu"
            options = {"num_gpus": 1} if on_gpu else {}
            refs[task.options(**options).remote(run, spec.to_dict(), str(out))] = spec
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            spec = refs.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except Exception as err:  # the task died (node lost, out of memory)
                result = failed_result(spec, err)
            on_result(result)
    finally:
        if started:
            ray.shutdown()


class _Progress:
    """One line per finished run: its score and wall time, the sweep's elapsed time and ETA."""

    def __init__(self, pending: list[RunSpec], workers: int, reused: set[str] | None = None):
        # Reused runs are only scored: out of the ETA and of the actual/estimated ratio.
        self.reused = reused or set()
        self.estimate = {s.name: 0.0 if s.name in self.reused else s.est_minutes
                         for s in pending}  # fmt: skip
        self.total, self.count, self.workers = len(pending), 0, workers
        self.start = time.perf_counter()
        self.actual = self.expected = 0.0

    def report(self, result: Result) -> None:
        name = result["spec"]["name"]
        self.count += 1
        expected = self.estimate.pop(name, 0.0)
        if name not in self.reused:
            self.actual += result.get("wall_minutes", 0.0)
            self.expected += expected
        elapsed = (time.perf_counter() - self.start) / 60
        ratio = self.actual / self.expected if self.actual and self.expected else 1.0
        eta = ratio * wall_estimate(self.estimate.values(), self.workers)
        width = len(str(self.total))
        head = f"[{self.count:>{width}}/{self.total}]"
        if result["status"] == "done":
            main = result["rows"][0]
            text = f"{head} done   {name}  score {main['score']}"
            if result.get("reused_from"):
                text += f"  (reused {result['reused_from']})"
        else:
            text = f"{head} FAILED {name}: {result['status']}"
        print(f"{text}  ({result.get('wall_minutes', 0.0):.1f} min) | elapsed "
              f"{_duration(elapsed)}, ETA {_duration(eta)}", flush=True)  # fmt: skip


def run_sweep(
    study: str,
    preset: str,
    out: str | Path | None = None,
    workers: int = 2,
    ray_address: str | None = None,
    dry_run: bool = False,
    report_only: bool = False,
    reuse: bool = True,
    reuse_from: Sequence[str | Path] = (),
    wandb: bool = False,
) -> Path:
    """Expand ``study`` at ``preset`` and run it (see :func:`run_specs`).

    :param out: the study directory (default ``results/<study>``, or the preset's own, e.g.
        ``results/k_cycles-ppo`` for k_cycles cpu-ppo).
    :return: the study directory.
    """
    specs = expand(study, preset)
    out = Path(out) if out is not None else get_study(study).default_out(preset)
    return run_specs(
        specs, out, workers, ray_address, dry_run, preset=preset, report_only=report_only,
        reuse=reuse, reuse_from=reuse_from, wandb=wandb,
    )  # fmt: skip


def main(args: SweepArgs) -> Path:
    """``trm-rl sweep``: run the study the arguments name."""
    return run_sweep(
        args.study, args.preset, args.out, args.workers, args.ray_address, args.dry_run,
        args.report_only, args.reuse, args.reuse_from, args.wandb,
    )  # fmt: skip


def script_main(study: str, argv: list[str] | None = None) -> Path:
    """``python experiments/<study>.py --preset P ...``: ``trm-rl sweep <study> --preset P``.

    :param study: the study the script runs.
    :param argv: the arguments (``sys.argv[1:]`` when None).
    """
    description = f"{get_study(study).description}. Same as `trm-rl sweep {study} ...`."
    options = tyro.cli(SweepOptions, args=argv, description=description)
    try:
        return main(SweepArgs(study=study, **asdict(options)))
    except (ValueError, ImportError) as err:
        raise SystemExit(f"{study}: {err}") from None


__all__ = [
    "CURVE_FIELDS",
    "RUN_FIELDS",
    "SweepArgs",
    "SweepOptions",
    "add_flops",
    "build_config",
    "check_spec",
    "expand",
    "failed_result",
    "main",
    "plan_lines",
    "run_one",
    "run_reusing",
    "run_specs",
    "run_sweep",
    "script_main",
    "wall_estimate",
    "write_result",
    "write_tables",
]
