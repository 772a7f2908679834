"""Every number the READMEs quote, the command that produced it, and a way to measure it again.

    python experiments/reproduce.py --list                  # every claim, its command, cost, status
    python experiments/reproduce.py --only 'pretrained-*' --dry-run     # the commands, nothing run
    python experiments/reproduce.py --only sup-s4-3min-halt --background  # detached, prints pid
    python experiments/reproduce.py --report                # quoted vs measured so far

The registry, ``experiments/claims.toml``, holds three kinds of entries:

- ``[jobs.NAME]``: the commands that produce some numbers (``trm-rl ...`` or ``python ...``),
  with placeholders ``{seed}``, ``{dir}`` (the job's folder for that seed), ``{jobs[OTHER]}``
  (the folder of a job it ``needs``) and ``{env[VAR]}``; a trailing ``> FILE`` keeps the
  command's stdout in FILE. ``seeds`` repeats the commands once per seed.
- ``[[claims]]``: one quoted number: where it is (``file``, ``quoted`` as written), what it is
  (``metric``), the ``job`` that produces it, how to read it from the job's files
  (``measure``), and the ``tolerance`` the README's own spread allows (``spread`` says where it
  comes from). A claim without a ``job`` is untraceable and says why (``untraceable``).
- ``[[ignore]]``: numbers that are definitions or citations, not results, with a reason.

Jobs run under ``runs/reproduce/<job>/[s<seed>/]`` (``--root``), one step at a time; a finished
step leaves ``step<i>.done.json`` (written to a temporary file and renamed into place), so a
re-run skips it, and an interrupted step's ``--out`` folder is moved aside before it starts
again (``resumes = true`` jobs, like ``trm-rl sweep``, continue their own output instead).
Every step logs a progress line, so the script runs well unattended: ``--background`` (with
``--only``) starts the same command in a session of its own, appends its output to
``<root>/reproduce.log``, prints its pid (``kill -- -PID`` stops it and its running step) and
returns; ``tail -f`` the log to follow it and ``--report`` for the numbers.

Each step's marker also records what explains its wall time besides its work: ``seconds``,
``cpus`` (``os.cpu_count()``), the 1/5/15-minute load averages at its start and end
(``load_start``, ``load_end``), the mean 1-minute load over samples taken every minute
(``load_1m_mean``, ``load_samples``), and the ``python`` and ``torch`` versions; nothing names
the machine. The comparison goes to ``runs/reproduce/summary.csv``, with the wall minutes of the
steps behind each measurement (``wall_min``), their mean 1-minute load weighted by step time
(``load_1m``) and ``cpus`` (blank for markers written before this record): measurements are of
this machine, like the runs beside them, while ``results/`` holds the curated, committed numbers
the READMEs quote.

:func:`scan_numbers` finds the numbers a README quotes (percentages, ``NNx`` ratios, numbers
with a rate or time unit) outside code and generated blocks; ``tests/test_reproduce.py`` checks
that each one has a claim or an ignore entry, and that every README command parses.
"""

from __future__ import annotations

import csv
import fnmatch
import glob
import importlib.metadata
import json
import math
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tyro

from envs.utils import atomic_write
from experiments.claims import (
    REGISTRY,
    ROOT,
    Claim,
    Job,
    Registry,
    as_strs,
    coverage,
    load_registry,
    locate,
    readme_paths,
    scan_numbers,
)

#: How often a running step's load average is sampled, in seconds.
LOAD_EVERY_S = 60.0
REDUCE = {"all": None, "max": max, "min": min, "first": lambda v: v[0], "last": lambda v: v[-1]}


# ------------------------------------------------------------------------------- commands
class _Env(dict):
    """``{env[VAR]}``: the variable, or a marker for a dry run."""

    def __init__(self, strict: bool) -> None:
        super().__init__(os.environ)
        self.strict = strict

    def __missing__(self, key: str) -> str:
        if self.strict:
            raise ValueError(f"this command needs the environment variable {key}; set it")
        return f"<${key}>"


@dataclass(frozen=True)
class Step:
    """One command of one job and seed, ready to run."""

    job: str
    seed: int | None
    index: int
    argv: tuple[str, ...]  # as written, placeholders filled
    stdout: Path  # where its stdout goes
    folder: Path  # the job's folder for this seed

    @property
    def marker(self) -> Path:
        return self.folder / f"step{self.index}.done.json"

    @property
    def text(self) -> str:
        return shlex.join(self.argv)


def job_dir(root: Path, job: Job, seed: int | None) -> Path:
    return root / job.name / (f"s{seed}" if seed is not None else "")


def at_root(path: Path) -> Path:
    """A relative path is relative to the repository root (where the commands run)."""
    return path if path.is_absolute() else ROOT / path


def _shown(path: Path) -> str:
    """How a path appears in a command: relative to the repository root when inside it."""
    return (path.relative_to(ROOT) if path.is_relative_to(ROOT) else path).as_posix()


def _seeds(job: Job) -> tuple[int | None, ...]:
    return job.seeds or (None,)


def steps(job: Job, root: Path, registry: Registry, strict: bool = True) -> list[Step]:
    """The job's commands for every seed, placeholders filled (``strict=False``: a missing
    environment variable becomes ``<$VAR>``, for dry runs and parse checks)."""
    root = at_root(root)
    jobs = {n: _shown(job_dir(root, registry.jobs[n], None)) for n in job.needs}
    out = []
    for seed in _seeds(job):
        folder = job_dir(root, job, seed)
        fill = {"seed": seed, "dir": _shown(folder), "jobs": jobs, "env": _Env(strict)}
        for index, command in enumerate(job.commands):
            argv = [t.format_map(fill) for t in shlex.split(command)]
            stdout = folder / f"step{index}.stdout"
            if len(argv) > 2 and argv[-2] == ">":
                stdout, argv = at_root(Path(argv[-1])), argv[:-2]
            out.append(Step(job.name, seed, index, tuple(argv), stdout, folder))
    return out


def executable(argv: Iterable[str]) -> list[str]:
    """The process to start: ``trm-rl`` and ``python`` through this interpreter; ``*`` and
    ``?`` patterns expanded like a shell (kept as written when nothing matches)."""
    argv = list(argv)
    head = [sys.executable, "-m", "experiments.cli"] if argv[0] == "trm-rl" else [sys.executable]
    rest = []
    for token in argv[1:]:
        matches = sorted(glob.glob(token, root_dir=ROOT)) if any(c in token for c in "*?") else []
        rest += matches or [token]
    return head + rest


def done(step: Step) -> dict[str, Any] | None:
    """The step's completion record, when it finished with this very command."""
    try:
        record = json.loads(step.marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if record.get("command") == step.text else None


def _log(message: str) -> None:
    print(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {message}", flush=True)


def _name(step: Step) -> str:
    seed = f" seed {step.seed}" if step.seed is not None else ""
    return f"{step.job}{seed} step {step.index}"


def _move_aside(step: Step) -> None:
    """An interrupted step's ``--out`` folder goes to ``<out>.interrupted-N`` (nothing is
    deleted), so that the command starts fresh instead of refusing to overwrite a run."""
    argv = list(step.argv)
    for flag in ("--out", "--out-dir"):
        if flag in argv[:-1]:
            out = at_root(Path(argv[argv.index(flag) + 1]))
            if out.exists():
                n = 1
                while out.with_name(f"{out.name}.interrupted-{n}").exists():
                    n += 1
                out.rename(out.with_name(f"{out.name}.interrupted-{n}"))
                _log(f"moved the unfinished {out} aside ({out.name}.interrupted-{n})")


def _loadavg() -> tuple[float, float, float] | None:
    """The 1, 5 and 15-minute load averages (None where the system has none, e.g. Windows)."""
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return None


def _wait(proc: subprocess.Popen, seconds: float) -> int | None:
    """The exit code, or None when the process still runs after ``seconds``."""
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_record(samples: list[tuple[float, float, float] | None]) -> dict[str, Any]:
    """What explains a step's wall time besides its work, for its marker: the CPU count, the
    load averages at its start and end, the mean 1-minute load over the samples taken every
    ``LOAD_EVERY_S`` seconds (start and end included), and the python and torch versions.
    Nothing names the machine."""
    loads = [s for s in samples if s is not None]
    return {
        "cpus": os.cpu_count(),
        "load_start": [round(x, 2) for x in samples[0]] if samples[0] else None,
        "load_end": [round(x, 2) for x in samples[-1]] if samples[-1] else None,
        "load_1m_mean": round(statistics.mean(s[0] for s in loads), 2) if loads else None,
        "load_samples": len(loads),
        "python": platform.python_version(),
        "torch": _version("torch"),
    }


def run_step(step: Step, resumes: bool) -> bool:
    """Run one step unless it is done; record completion atomically. True when it finished."""
    if done(step):
        _log(f"{_name(step)}: done before, skipped")
        return True
    step.folder.mkdir(parents=True, exist_ok=True)
    if not resumes:
        _move_aside(step)
    _log(f"{_name(step)}: {step.text}")
    start, samples = time.time(), [_loadavg()]
    log = step.folder / f"step{step.index}.stderr"
    with open(step.stdout, "w", encoding="utf-8") as out, open(log, "w", encoding="utf-8") as err:
        proc = subprocess.Popen(executable(step.argv), cwd=ROOT, stdout=out, stderr=err)
        try:
            while (code := _wait(proc, LOAD_EVERY_S)) is None:
                samples.append(_loadavg())
        except BaseException:  # as subprocess.call: no orphan on Ctrl-C
            proc.kill()
            proc.wait()
            raise
    seconds = time.time() - start
    samples.append(_loadavg())
    if code != 0:
        _log(f"{_name(step)}: FAILED (exit {code}); see {log}")
        return False
    record = {"command": step.text, "returncode": 0, "seconds": round(seconds, 2),
              "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "stdout": step.stdout.as_posix(),
              **machine_record(samples)}  # fmt: skip
    with atomic_write(step.marker) as f:
        json.dump(record, f, indent=1)
    _log(f"{_name(step)}: done in {seconds / 60:.1f} min")
    return True


class _Lock:
    """One process per job folder: a second one skips the job instead of racing it."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "running.lock"

    def __enter__(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            pid = int(self.path.read_text())
            os.kill(pid, 0)
            return False  # held by a live process
        except (OSError, ValueError):
            pass
        self.path.write_text(str(os.getpid()))
        return True

    def __exit__(self, *exc: object) -> None:
        if self.path.is_file() and self.path.read_text() == str(os.getpid()):
            self.path.unlink()


def order(names: Iterable[str], registry: Registry) -> list[str]:
    """The jobs and everything they need, needed jobs first."""
    out: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise ValueError(f"jobs need each other in a cycle: {' -> '.join((*path, name))}")
        for need in registry.jobs[name].needs:
            visit(need, (*path, name))
        if name not in out:
            out.append(name)

    for name in names:
        visit(name, ())
    return out


def run_jobs(names: list[str], root: Path, registry: Registry) -> list[str]:
    """Run the jobs in order (resuming); a failed job skips the jobs that need it.
    :return: the names of the jobs that failed or were skipped."""
    failed: list[str] = []
    for name in order(names, registry):
        job = registry.jobs[name]
        if any(n in failed for n in job.needs):
            _log(f"{name}: skipped (a job it needs failed)")
            failed.append(name)
            continue
        with _Lock(root / name) as mine:
            if not mine:
                _log(f"{name}: another reproduce process is running it; skipped")
                failed.append(name)
                continue
            _log(f"{name}: {len(job.commands)} command(s) x {len(_seeds(job))} seed(s), "
                 f"about {job.cost_minutes:g} min")  # fmt: skip
            by_seed: dict[int | None, bool] = {}
            for step in steps(job, root, registry):
                if by_seed.get(step.seed, True):
                    by_seed[step.seed] = run_step(step, job.resumes)
            if not all(by_seed.values()):
                failed.append(name)
    return failed


# ------------------------------------------------------------------------------- measuring
def dig(obj: Any, path: str) -> Any:
    """``rows[policy=trm].speedup_vs_naive`` or ``a.b.0``: a value inside parsed JSON."""
    for name, sel in re.findall(r"([^.\[\]]+)|\[([^\]]+)\]", path):
        if name:
            obj = obj[int(name)] if isinstance(obj, list) else obj[name]
            continue
        want = dict(part.split("=", 1) for part in sel.split(","))
        hits = [x for x in obj if all(str(x.get(k)) == v for k, v in want.items())]
        if len(hits) != 1:
            raise KeyError(f"[{sel}] matches {len(hits)} entries, not 1")
        obj = hits[0]
    return obj


def _json(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except ValueError:  # a log line before the JSON
        return json.loads(text[text.index("{") : text.rindex("}") + 1])


def _matches(cell: str | None, want: Any) -> bool:
    """``where`` values: equal as text, or a numeric bound like ``">=1200"``."""
    bound = re.fullmatch(r"(>=|<=|>|<)\s*(\S+)", str(want))
    if not bound:
        return cell == str(want)
    x, op, y = _float(cell), bound.group(1), float(bound.group(2))
    return {">=": x >= y, "<=": x <= y, ">": x > y, "<": x < y}[op]


def _rows(path: Path, where: Mapping[str, Any]) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r for r in rows if all(_matches(r.get(k), v) for k, v in where.items())]


def _float(text: Any) -> float:
    return float(text) if text not in (None, "") else math.nan


def _group_means(
    rows: list[dict[str, str]], keys: Sequence[str], column: str
) -> dict[tuple[str, ...], float]:
    """The mean of ``column`` (finite values) over each group of rows sharing ``keys``."""
    groups: dict[tuple[str, ...], list[float]] = {}
    for r in rows:
        value = _float(r.get(column))
        if math.isfinite(value):
            groups.setdefault(tuple(r[k] for k in keys), []).append(value)
    return {k: sum(v) / len(v) for k, v in groups.items()}


def measure(claim: Claim, folder: Path, seed: int | None, step_seconds: list[float]) -> list[float]:
    """The claim's measured values in one job folder, in the quoted unit (see the registry's
    header for the kinds of ``measure``).

    :raises (OSError, KeyError, ValueError): when a file or a value is not there.
    """
    m = claim.measure
    scale = float(m.get("scale", 1))
    if "elapsed" in m:
        picks = range(len(step_seconds)) if m["elapsed"] == "all" else m["elapsed"]
        return [sum(step_seconds[i] for i in picks) / 60 * scale]
    values = []
    for name in as_strs(m["file"]):
        path = folder / name.format(seed=seed)
        if "regex" in m:
            hits = re.findall(m["regex"], path.read_text(encoding="utf-8"))
            if not hits:
                raise ValueError(f"{m['regex']!r} not found in {path}")
            values += [float(h) for h in hits]
        elif path.suffix == ".csv":
            values += _csv_values(m, path)
        else:
            data = _json(path)
            keys, divs = as_strs(m["key"]), as_strs(m.get("divide_by", ()))
            pairwise = len(keys) > 1 and len(divs) == len(keys)  # else: divide by their sum
            for i, key in enumerate(keys):
                value = float(dig(data, key))
                if divs:
                    over = divs[i : i + 1] if pairwise else divs
                    value /= sum(float(dig(data, k)) for k in over)
                values.append(value)
    return [v * scale for v in values]


def _csv_values(m: Mapping[str, Any], path: Path) -> list[float]:
    """A column of the rows ``where`` selects (``reduce``d), or with ``compare``: the absolute
    differences from a committed CSV on the rows both have (matched ``on`` key columns), or with
    ``group_mean`` too, between the means of the groups of rows sharing the key columns."""
    rows = _rows(path, m.get("where", {}))
    column = m["column"]
    if "compare" in m and m.get("group_mean"):
        keys = as_strs(m["on"])
        mine = _group_means(rows, keys, column)
        theirs = _group_means(_rows(ROOT / m["compare"], m.get("where", {})), keys, column)
        vals = [abs(mine[k] - theirs[k]) for k in mine if k in theirs]
    elif "compare" in m:
        keys = as_strs(m["on"])
        theirs = {tuple(r[k] for k in keys): r for r in _rows(ROOT / m["compare"], {})}
        pairs = [(r, theirs.get(tuple(r[k] for k in keys))) for r in rows]
        vals = [abs(_float(a[column]) - _float(b[column])) for a, b in pairs if b is not None]
    else:
        vals = [_float(r[column]) for r in rows]
    vals = [v for v in vals if math.isfinite(v)]
    if not vals:
        raise ValueError(f"no value of {column!r} in {path} where {m.get('where', {})}")
    reduce = REDUCE[m.get("reduce", "all")]
    return vals if reduce is None else [reduce(vals)]


@dataclass(frozen=True)
class Outcome:
    """A claim measured: its values over seeds and whether they are within the spread."""

    claim: Claim
    values: tuple[float, ...]
    status: str  # measured | partial | not yet | untraceable | unreadable: ...
    within: bool | None
    wall_min: float | None = None  # the wall minutes of the steps the values come from
    load_1m: float | None = None  # their mean 1-minute load average (None: older markers)
    cpus: str = ""  # the CPU count(s) they ran with ("" from older markers)

    @property
    def load(self) -> str:
        """``load/cpus`` for the tables, ``-`` when the markers predate the load record."""
        if self.load_1m is None:
            return "-"
        return f"{self.load_1m:.2f}/{self.cpus or '?'}"

    def summary(self) -> str:
        v = self.values
        if not v:
            return "—"
        if len(v) == 1:
            return f"{v[0]:.4g} (n=1)"
        return (f"{statistics.mean(v):.4g} ± {statistics.stdev(v):.2g} "
                f"[{min(v):.4g}–{max(v):.4g}] (n={len(v)})")  # fmt: skip


def within(claim: Claim, values: list[float]) -> bool:
    """Whether the measured values agree with the quoted number (see the registry's header)."""
    lo, hi = claim.value or (math.nan, math.nan)
    tol = float(claim.tolerance or 0)
    mean = statistics.mean(values)
    return {
        "mean": lambda: abs(mean - lo) <= tol,
        "range": lambda: lo - tol <= min(values) and max(values) <= hi + tol,
        "at_most": lambda: max(values) <= hi + tol,
        "at_least": lambda: min(values) >= lo - tol,
        "each": lambda: all(abs(v - lo) <= tol for v in values),
    }[claim.check]()


def step_load(record: Mapping[str, Any]) -> float | None:
    """A step's mean 1-minute load: over its samples, else the mean of its start and end."""
    if record.get("load_1m_mean") is not None:
        return float(record["load_1m_mean"])
    ends = [record.get("load_start"), record.get("load_end")]
    if all(ends):
        return statistics.mean(float(e[0]) for e in ends)  # type: ignore[index]
    return None


def machine_summary(records: list[Mapping[str, Any]]) -> tuple[float, float | None, str]:
    """Over some step markers: the wall minutes, the mean 1-minute load weighted by each
    step's seconds (None when no marker records it) and the CPU counts (``"2"``, ``"2/16"``)."""
    seconds = [float(r.get("seconds", 0)) for r in records]
    loads = [(step_load(r), s) for r, s in zip(records, seconds, strict=True)]
    loads = [(x, s) for x, s in loads if x is not None]
    load, total = None, sum(s for _, s in loads)
    if loads:
        load = sum(x * s for x, s in loads) / total if total else loads[0][0]
    cpus = sorted({int(r["cpus"]) for r in records if r.get("cpus")})
    return sum(seconds) / 60, load, "/".join(map(str, cpus))


def outcome(claim: Claim, root: Path, registry: Registry) -> Outcome:
    """Read a claim's measurement from its job's folders (nothing is run)."""
    if claim.job is None:
        return Outcome(claim, (), "untraceable", None)
    job = registry.jobs[claim.job]
    all_steps = steps(job, root, registry, strict=False)
    values: list[float] = []
    seeds = claim.seeds or _seeds(job)
    finished, used = 0, []
    for seed in seeds:
        mine = [s for s in all_steps if s.seed == seed]
        records = [done(s) for s in mine]
        if not all(records):
            continue
        finished += 1
        used += [r for r in records if r]
        try:
            seconds = [float(r["seconds"]) for r in records if r]
            values += measure(claim, job_dir(root, job, seed), seed, seconds)
        except (OSError, KeyError, ValueError, IndexError, TypeError) as err:
            return Outcome(claim, (), f"unreadable: {err}", None)
    if not finished:
        return Outcome(claim, (), "not yet", None)
    status = "measured" if finished == len(seeds) else f"partial ({finished}/{len(seeds)} seeds)"
    wall, load, cpus = machine_summary(used)
    return Outcome(claim, tuple(values), status, within(claim, values), wall, load, cpus)


SUMMARY_FIELDS = ["id", "file", "quoted", "metric", "job", "status", "n", "mean", "std", "min",
                  "max", "check", "tolerance", "within", "spread", "wall_min", "load_1m",
                  "cpus"]  # fmt: skip


def write_summary(outcomes: list[Outcome], path: Path) -> None:
    """One row per claim measured so far (``runs/reproduce/summary.csv``)."""
    rows = []
    for o in outcomes:
        v, c = o.values, o.claim
        if not v:
            continue
        rows.append({
            "id": c.id, "file": ";".join(c.files), "quoted": c.quoted, "metric": c.metric,
            "job": c.job, "status": o.status, "n": len(v), "mean": statistics.mean(v),
            "std": statistics.stdev(v) if len(v) > 1 else "", "min": min(v), "max": max(v),
            "check": c.check, "tolerance": c.tolerance, "within": o.within, "spread": c.spread,
            "wall_min": "" if o.wall_min is None else round(o.wall_min, 2),
            "load_1m": "" if o.load_1m is None else round(o.load_1m, 2), "cpus": o.cpus,
        })  # fmt: skip
    with atomic_write(path) as f:
        writer = csv.DictWriter(f, SUMMARY_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


# ------------------------------------------------------------------------------- command line
@dataclass
class ReproduceArgs:
    """List every number the READMEs quote with the command that produced it; run the chosen
    ones (resumably) and print quoted vs measured (see experiments/reproduce.py)."""

    only: tuple[str, ...] = ()
    """Claim ids or job names to run, shell patterns allowed (e.g. 'pretrained-*'); the jobs
    they need run first."""
    list: bool = False
    """Print the claims (id, file:line, quoted, command, est. cost, status) and exit; the
    default when nothing else is asked."""
    dry_run: bool = False
    """With --only: print the commands it would run, run nothing."""
    report: bool = False
    """Print quoted vs measured for every claim measured so far and write summary.csv."""
    root: Path = Path("runs/reproduce")
    """Where the jobs run and summary.csv goes (a relative path starts at the repository root:
    runs/ is not committed; results/ keeps the curated numbers the READMEs quote)."""
    registry: Path = REGISTRY
    """The registry of claims, jobs and ignored numbers."""
    background: bool = False
    """With --only: start the same run detached (its own session, so closing the terminal does
    not stop it; output appended to <root>/reproduce.log), print its pid and return at once.
    Follow it with tail -f <root>/reproduce.log; read the numbers with --report."""


def refuse_background(args: ReproduceArgs) -> None:
    """:raises ValueError: when --background comes without jobs to run, saying what to do."""
    if not args.background:
        return
    other = [f for f, on in (("--list", args.list), ("--dry-run", args.dry_run),
                             ("--report", args.report)) if on]  # fmt: skip
    if other:
        raise ValueError(f"--background runs jobs and cannot go with {' or '.join(other)}; "
                         f"drop --background to {other[0][2:]} in the foreground")  # fmt: skip
    if not args.only:
        raise ValueError("--background needs --only with the claims or jobs to run, e.g. "
                         "--only 'pretrained-*' --background (see --list)")  # fmt: skip


def background(args: ReproduceArgs) -> subprocess.Popen:
    """Start ``reproduce --only ...`` detached: a new session, no stdin, its output appended to
    ``<root>/reproduce.log``. :return: the started process (not waited for)."""
    root = at_root(args.root)
    root.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "experiments.reproduce", "--only", *args.only,
            "--root", str(root), "--registry", str(args.registry.resolve())]  # fmt: skip
    with open(root / "reproduce.log", "a", encoding="utf-8") as log:
        log.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] started: {shlex.join(argv)}\n")
        log.flush()
        return subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def select(patterns: Iterable[str], registry: Registry) -> tuple[list[Claim], list[str]]:
    """The claims and job names the patterns name.

    :raises ValueError: for a pattern that names nothing.
    """
    claims, jobs = [], []
    for pattern in patterns:
        hit_c = [c for c in registry.claims if fnmatch.fnmatchcase(c.id, pattern)]
        hit_j = [j for j in registry.jobs if fnmatch.fnmatchcase(j, pattern)]
        if not hit_c and not hit_j:
            raise ValueError(f"--only {pattern!r} names no claim or job; see --list")
        claims += [c for c in hit_c if c not in claims]
        jobs += [j for j in hit_j if j not in jobs]
    for c in claims:
        if c.job and c.job not in jobs:
            jobs.append(c.job)
    claims += [c for c in registry.claims if c.job in jobs and c not in claims]
    return claims, jobs


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def list_table(registry: Registry, root: Path) -> str:
    """The ``--list`` table: one line per claim (its job's first command, the number of
    commands x seeds in brackets)."""
    lines = [f"{'id':32} {'where':36} {'quoted':17} {'est. min':>8}  {'status':11} command"]
    for c in registry.claims:
        o = outcome(c, root, registry)
        if c.job is None:
            command, cost = f"— untraceable: {c.untraceable}", ""
        else:
            job = registry.jobs[c.job]
            runs = f"[{len(job.commands)} x {len(_seeds(job))} seeds] " if job.seeds else ""
            runs = runs or (f"[{len(job.commands)} commands] " if len(job.commands) > 1 else "")
            command = runs + steps(job, root, registry, strict=False)[0].text
            cost = f"{job.cost_minutes:g}"
        places = locate(c, ROOT).split(", ")
        where = places[0] + (f" +{len(places) - 1}" if len(places) > 1 else "")
        lines.append(f"{_short(c.id, 32):32} {_short(where, 36):36} {_short(c.quoted, 17):17} "
                     f"{cost:>8}  {_short(o.status, 11):11} {_short(command, 110)}")  # fmt: skip
    traced = sum(c.job is not None for c in registry.claims)
    found = {(n.file, n.text) for p in readme_paths() for n in scan_numbers(p)}
    missing = {(n.file, n.text) for n in coverage(registry)[0]}
    lines.append(f"{len(registry.claims)} claims ({traced} with a command, "
                 f"{len(registry.claims) - traced} untraceable), {len(registry.jobs)} jobs; "
                 f"{len(found)} distinct numbers quoted in the READMEs, {len(missing)} without "
                 "an entry")  # fmt: skip
    return "\n".join(lines)


def report_table(outcomes: list[Outcome]) -> str:
    """Quoted vs measured, with the wall minutes of the steps behind each measurement and the
    machine's mean 1-minute load over them / its CPU count (``-``: markers without a record)."""
    lines = [f"{'id':34} {'quoted':12} {'measured':40} {'check':16} {'wall min':>8} "
             f"{'load/cpus':>9} within"]  # fmt: skip
    for o in outcomes:
        c = o.claim
        verdict = {True: "yes", False: "NO", None: o.status}[o.within]
        check = f"{c.check} ±{c.tolerance:g}" if c.tolerance is not None else ""
        wall = "-" if o.wall_min is None else f"{o.wall_min:.1f}"
        lines.append(f"{_short(c.id, 34):34} {_short(c.quoted, 12):12} "
                     f"{_short(o.summary(), 40):40} {check:16} {wall:>8} {o.load:>9} "
                     f"{verdict}")  # fmt: skip
    return "\n".join(lines)


def run(args: ReproduceArgs) -> int:
    """The command: list, dry-run, run or report. :return: the exit code."""
    refuse_background(args)
    registry = load_registry(args.registry)
    root = at_root(args.root)
    if args.only:
        claims, jobs = select(args.only, registry)
        if args.background:
            proc, log = background(args), root / "reproduce.log"
            other = "" if args.registry == REGISTRY else f" --registry {args.registry}"
            print(f"started in the background: pid {proc.pid}, jobs {', '.join(jobs)}\n"
                  f"  follow:  tail -f {_shown(log)}\n"
                  f"  stop:    kill -- -{proc.pid}   (its whole session, the running step too)\n"
                  f"  numbers: python experiments/reproduce.py --report --root "
                  f"{_shown(root)}{other}")  # fmt: skip
            return 0
        for c in claims:
            if c.job is None:
                print(f"{c.id}: untraceable ({c.untraceable}); nothing to run")
        if args.dry_run:
            total = 0.0
            for name in order(jobs, registry):
                job = registry.jobs[name]
                total += job.cost_minutes
                print(f"# {name} (about {job.cost_minutes:g} min)")
                for step in steps(job, root, registry, strict=False):
                    state = "  # done" if done(step) else ""
                    out = "" if step.stdout.name.startswith("step") else f" > {_shown(step.stdout)}"
                    print(f"{step.text}{out}{state}")
            print(f"# about {total:g} min in all")
            return 0
        failed = run_jobs(jobs, root, registry)
        outcomes = [outcome(c, root, registry) for c in claims]
        print(report_table(outcomes))
        write_summary([outcome(c, root, registry) for c in registry.claims], root / "summary.csv")
        return 1 if failed else 0
    if args.report:
        outcomes = [outcome(c, root, registry) for c in registry.claims]
        print(report_table([o for o in outcomes if o.values]))
        write_summary(outcomes, root / "summary.csv")
        print(f"{sum(bool(o.values) for o in outcomes)} of {len(outcomes)} claims measured; "
              f"table in {root / 'summary.csv'}")  # fmt: skip
        return 0
    print(list_table(registry, root))
    return 0


def main(argv: list[str] | None = None) -> None:
    args = tyro.cli(ReproduceArgs, args=argv, description=__doc__.split("\n\n")[0])
    try:
        code = run(args)
    except ValueError as err:
        raise SystemExit(f"reproduce: {err}") from None
    raise SystemExit(code)


if __name__ == "__main__":
    main()
