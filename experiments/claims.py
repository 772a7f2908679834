"""The registry of the numbers the READMEs quote (``experiments/claims.toml``) and the scan that
finds them: :func:`load_registry` reads and checks the registry, :func:`scan_numbers` finds the
numbers a README quotes (percentages, ``NNx`` ratios, numbers with a rate or time unit) outside
code and generated blocks, :func:`coverage` matches them to entries and :func:`bash_commands`
lists the commands of a README's ``bash`` blocks. ``experiments/reproduce.py`` runs the claims'
commands and compares; the registry format is documented there.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the tomli backport (pytest's dependency there)
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "experiments" / "claims.toml"
CHECKS = ("mean", "range", "at_most", "at_least", "each")
MEASURE_KEYS = {"file", "key", "divide_by", "column", "where", "reduce", "regex", "elapsed",
                "compare", "on", "group_mean", "scale"}  # fmt: skip


# ------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Job:
    """Commands that produce numbers; run once, or once per seed."""

    name: str
    commands: tuple[str, ...]
    seeds: tuple[int, ...] = ()  # () : one run, in <root>/<name>
    needs: tuple[str, ...] = ()  # jobs whose folders the commands read ({jobs[NAME]})
    cost_minutes: float = 0.0  # estimated wall minutes of the whole job on a 2-core CPU
    resumes: bool = False  # the commands continue their own interrupted output
    note: str = ""


@dataclass(frozen=True)
class Claim:
    """One number a README quotes and how to measure it again."""

    id: str
    files: tuple[str, ...]  # README paths, relative to the repository
    quoted: str  # as written, e.g. "99.4%"
    metric: str
    job: str | None = None
    measure: Mapping[str, Any] = field(default_factory=dict)
    tolerance: float | None = None  # in the quoted unit
    spread: str = ""  # where the tolerance comes from
    check: str = "mean"
    value: tuple[float, float] | None = None  # (low, high) in the quoted unit
    seeds: tuple[int, ...] | None = None  # a subset of the job's seeds
    also: tuple[str, ...] = ()  # numbers of the same files the same runs give (not compared)
    block: str | None = None  # a generated block it stands for ("*": the whole file)
    untraceable: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Ignore:
    """Numbers that are definitions or citations, not results."""

    files: tuple[str, ...]
    texts: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Registry:
    jobs: dict[str, Job]
    claims: list[Claim]
    ignore: list[Ignore]


def as_strs(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def parse_quoted(text: str) -> tuple[float, float] | None:
    """``"99.4%"`` -> (99.4, 99.4); ``"7-13%"`` -> (7, 13); ``"30k steps/s"`` -> (30000, ...);
    None when the text holds no number."""
    nums = re.findall(r"\d[\d,]*(?:\.\d+)?k?", text)
    if not nums:
        return None
    vals = [float(n.rstrip("k").replace(",", "")) * (1000 if n.endswith("k") else 1) for n in nums]
    ranged = len(vals) >= 2 and re.search(r"\d\s?[-–]\s?\d", text)
    return (vals[0], vals[1]) if ranged else (vals[0], vals[0])


def _claim(entry: dict[str, Any], jobs: Mapping[str, Job]) -> Claim:
    where = f"claim {entry.get('id', '?')!r}"
    missing = [k for k in ("id", "file", "quoted", "metric") if k not in entry]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)} (see the registry's header)")
    value = entry.get("value")
    if value is None:
        value = parse_quoted(entry["quoted"])
    else:
        value = tuple(float(v) for v in (value if isinstance(value, list) else [value, value]))
        if len(value) != 2:
            raise ValueError(f"{where}: value is a number or [low, high], not {entry['value']}")
    job, measure = entry.get("job"), dict(entry.get("measure", {}))
    claim = Claim(
        id=entry["id"], files=as_strs(entry["file"]), quoted=entry["quoted"], metric=entry["metric"],
        job=job, measure=measure, tolerance=entry.get("tolerance"), spread=entry.get("spread", ""),
        check=entry.get("check", "range" if value and value[0] != value[1] else "mean"),
        value=value, seeds=tuple(entry["seeds"]) if "seeds" in entry else None,
        also=as_strs(entry.get("also", ())), block=entry.get("block"),
        untraceable=entry.get("untraceable"), note=entry.get("note", ""),
    )  # fmt: skip
    if job is None:
        if not claim.untraceable:
            raise ValueError(f"{where}: give a job, or say why there is none (untraceable = ...)")
        return claim
    if job not in jobs:
        raise ValueError(f"{where}: unknown job {job!r}; define [jobs.{job}]")
    unknown = set(measure) - MEASURE_KEYS
    reads = {"key", "column", "regex"} & set(measure)
    if unknown or not ("elapsed" in measure or ("file" in measure and len(reads) == 1)):
        raise ValueError(f"{where}: measure is {{elapsed = ...}} or {{file = ..., and one of "
                         f"key, column, regex}}; unknown keys: {sorted(unknown)}")  # fmt: skip
    if claim.tolerance is None or value is None or claim.check not in CHECKS:
        raise ValueError(f"{where}: a measured claim needs a numeric quoted/value, a tolerance "
                         f"and a check in {CHECKS}")  # fmt: skip
    if claim.seeds and not set(claim.seeds) <= set(jobs[job].seeds):
        raise ValueError(f"{where}: seeds {claim.seeds} are not all seeds of job {job!r}")
    return claim


def load_registry(path: str | Path = REGISTRY) -> Registry:
    """Read and check the registry of claims.

    :raises ValueError: naming the entry that is malformed and how to fix it.
    """
    if tomllib is None:
        raise ValueError("reading the registry needs Python >= 3.11 or `pip install tomli`")
    with open(path, "rb") as f:
        data = tomllib.load(f)
    jobs = {}
    for name, entry in data.get("jobs", {}).items():
        commands = as_strs(entry.get("commands", ()))
        bad = [c for c in commands if shlex.split(c)[0] not in ("trm-rl", "python", "python3")]
        if not commands or bad:
            raise ValueError(f"job {name!r}: commands must start with trm-rl or python: {bad}")
        jobs[name] = Job(
            name, commands, tuple(entry.get("seeds", ())), as_strs(entry.get("needs", ())),
            float(entry.get("cost_minutes", 0)), bool(entry.get("resumes", False)),
            entry.get("note", ""),
        )  # fmt: skip
    for job in jobs.values():
        unknown = [n for n in job.needs if n not in jobs]
        if unknown:
            raise ValueError(f"job {job.name!r} needs unknown jobs {unknown}")
    claims = [_claim(entry, jobs) for entry in data.get("claims", [])]
    ids = [c.id for c in claims]
    dupes = sorted({i for i in ids if ids.count(i) > 1} | (set(ids) & set(jobs)))
    if dupes:
        raise ValueError(f"claim ids must be unique and differ from job names: {dupes}")
    ignore = [
        Ignore(as_strs(e["file"]), as_strs(e["text"]), e["reason"]) for e in data.get("ignore", [])
    ]
    return Registry(jobs, claims, ignore)


# ------------------------------------------------------------------------------- README scan
@dataclass(frozen=True)
class Found:
    """A number quoted in a README: its file (relative), line and text as written."""

    file: str
    line: int
    text: str


FENCE = re.compile(r"^\s*(```|~~~)")
BLOCK = re.compile(r"^\s*<!--\s*([\w.:-]+):begin\s*-->\s*$")
_NUM = r"\d[\d,]*(?:\.\d+)?k?"
_UNITS = (
    r"env[-\s]+steps/s|steps/s|samples/s|puzzles/s|mazes/s|GFLOP/s|s/step|CPU-minutes"
    r"|CPU-hours|GPU-days?|minutes?|min|hours?|h|seconds?|MB|GB"
)
#: A percentage, an ``NNx`` ratio (``9x9`` is a size, not a ratio) or a number with a rate or
#: time unit; ``7-13%`` and ``34-84 env steps/s`` are one number (a range).
NUMBER = re.compile(
    rf"(?<![\w.]){_NUM}(?:\s?[-–]\s?{_NUM})?(?:\s?%|x(?!\w)|[-\s](?:{_UNITS})(?![\w/]))"
)


def readme_paths(root: Path = ROOT) -> list[Path]:
    """README.md and every results README whose numbers are claims."""
    found = [root / "README.md", root / "results" / "README.md"]
    found += sorted((root / "results").glob("*/README.md"))
    return [p for p in found if p.is_file()]


def _prose(text: str) -> tuple[list[str], list[tuple[str, int]]]:
    """The lines with code blocks, generated blocks, inline code and link targets blanked (same
    line numbers), and the generated blocks ``(name, line of the begin marker)``."""
    out, blocks, fence, block = [], [], False, None
    for number, line in enumerate(text.splitlines(), 1):
        keep = ""
        if FENCE.match(line):
            fence = not fence
        elif fence:
            pass
        elif block is not None:
            block = None if line.strip() == f"<!-- {block}:end -->" else block
        elif BLOCK.match(line):
            block = BLOCK.match(line).group(1)
            blocks.append((block, number))
        else:
            keep = re.sub(r"`[^`]*`|\]\([^)]*\)", lambda m: " " * len(m.group(0)), line)
        out.append(keep)
    return out, blocks


def scan_numbers(path: Path, root: Path = ROOT) -> list[Found]:
    """Every number ``path`` quotes outside code and generated blocks (see :data:`NUMBER`); a
    number broken over two lines is found once, at its first line."""
    lines, _ = _prose(path.read_text(encoding="utf-8"))
    text = "\n".join(lines)
    rel = path.relative_to(root).as_posix()
    return [
        Found(rel, text.count("\n", 0, m.start()) + 1, " ".join(m.group(0).split()))
        for m in NUMBER.finditer(text)
    ]


def generated_blocks(path: Path) -> list[tuple[str, int]]:
    """``(name, line)`` of each ``<!-- NAME:begin -->`` block (``report``, ``flagship:TASK``)."""
    return _prose(path.read_text(encoding="utf-8"))[1]


def bash_commands(path: Path) -> list[tuple[int, list[str]]]:
    """``(line, argv)`` of every ``trm-rl`` or ``python[3]`` command in the file's bash blocks
    (continuations joined, comments dropped, ``&&``/``;``/``|`` split, redirections removed)."""
    out, fence, buffer, start = [], None, "", 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            fence = None if fence is not None else line.strip().strip("`~").strip()
            continue
        if fence not in ("bash", "sh", "shell", "console"):
            continue
        start = start or number
        buffer += line.rstrip()
        if buffer.endswith("\\"):
            buffer = buffer[:-1] + " "
            continue
        lexer = shlex.shlex(buffer, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        argv: list[str] = []
        for token in [*lexer, ";"]:
            if token in ("&&", "||", ";", "|", "&"):
                if argv and argv[0] in ("trm-rl", "python", "python3"):
                    out.append((start, argv))
                argv = []
            else:
                argv.append(token)
        buffer, start = "", 0
    return [(n, _no_redirect(a)) for n, a in out]


def _no_redirect(argv: list[str]) -> list[str]:
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
        elif token in (">", ">>", "2>", "<"):
            skip = True
        else:
            out.append(token)
    return out


def coverage(registry: Registry, root: Path = ROOT) -> tuple[list[Found], list[str]]:
    """The quoted numbers no claim or ignore entry covers, and the generated blocks (and
    benchmark files) without a claim: what the fast test reports."""
    covered = {(f, q) for c in registry.claims for f in c.files for q in (c.quoted, *c.also)}
    covered |= {(f, t) for i in registry.ignore for f in i.files for t in i.texts}
    blocks = {(f, c.block) for c in registry.claims if c.block for f in c.files}
    missing, lacking = [], []
    for path in readme_paths(root):
        rel = path.relative_to(root).as_posix()
        missing += [n for n in scan_numbers(path, root) if (n.file, n.text) not in covered]
        lacking += [f"{rel}:{line} ({name})" for name, line in generated_blocks(path)
                    if (rel, name) not in blocks]  # fmt: skip
    for path in sorted((root / "results" / "benchmarks").rglob("*.md")):
        rel = path.relative_to(root).as_posix()
        if (rel, "*") not in blocks:
            lacking.append(f"{rel} (whole file)")
    return missing, lacking


def locate(claim: Claim, root: Path = ROOT) -> str:
    """``file:line`` of the claim's first occurrence (the begin marker of a block)."""
    places = []
    for name in claim.files:
        path = root / name
        if not path.is_file():
            places.append(f"{name}:?")
            continue
        if claim.block == "*":
            places.append(f"{name}:1")
            continue
        if claim.block:
            lines = [n for b, n in generated_blocks(path) if b == claim.block]
        else:
            lines = [n.line for n in scan_numbers(path, root) if n.text == claim.quoted]
            text = path.read_text(encoding="utf-8").splitlines()
            lines = lines or [i for i, t in enumerate(text, 1) if claim.quoted in t]
        places.append(f"{name}:{lines[0] if lines else '?'}")
    return ", ".join(places)
