"""The README claims registry (experiments/claims.toml): every number README.md and
results/*/README.md quote has a claim or an ignore entry, every command of the READMEs and of
the registry parses with the real parser (nothing runs), and the runner resumes, measures and
compares on toy jobs."""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import runpy
import sys
import warnings
from pathlib import Path
from unittest import mock

import pytest
import tyro

from experiments import claims, reproduce
from experiments.claims import (
    ROOT,
    bash_commands,
    coverage,
    load_registry,
    readme_paths,
    scan_numbers,
)
from experiments.cli import _parse, edge_argv
from experiments.cli import main as cli_main
from experiments.reproduce import ReproduceArgs, steps

PROJECT = ("envs", "trm_rl", "baselines", "experiments", "benchmarks")
READMES = readme_paths()


@pytest.fixture(scope="module")
def registry() -> claims.Registry:
    return load_registry()


# ----------------------------------------------------------------------- parsing commands
class _Parsed(Exception):
    """Raised by the patched parsers once a script's arguments have parsed: nothing runs."""


def parse_error(argv: list[str]) -> str | None:
    """None when ``argv`` (``trm-rl ...`` or ``python ...``) parses with its real parser, or is
    not a command of this project (``python -m pytest``); else the parser's complaint."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            if argv[0] == "trm-rl":
                _parse(edge_argv(argv[1:]))
                return None
            return _parse_script(argv[1:])
        except SystemExit as exit_:
            if exit_.code in (0, None):
                return None
            return " ".join((err.getvalue() or str(exit_.code)).split())[:600]


def _parse_script(args: list[str]) -> str | None:
    """Run a project script or module as ``__main__`` with ``tyro.cli`` and argparse patched to
    parse and then stop, before any work."""
    if args[:1] == ["-m"]:
        target, rest, is_module = args[1], args[2:], True
        if target.split(".")[0] not in PROJECT:
            return None
    elif args and args[0].endswith(".py"):
        target, rest, is_module = args[0], args[1:], False
        if not (ROOT / target).is_file():
            return f"no such script: {target}"
    else:
        return None
    real_cli, real_parse = tyro.cli, argparse.ArgumentParser.parse_args

    def cli(*a, **k):
        real_cli(*a, **k)
        raise _Parsed

    def parse_args(self, args=None, namespace=None):
        real_parse(self, args, namespace)
        raise _Parsed

    patches = (
        mock.patch.object(tyro, "cli", cli),
        mock.patch.object(argparse.ArgumentParser, "parse_args", parse_args),
        mock.patch.object(sys, "argv", [target, *rest]),
    )
    with patches[0], patches[1], patches[2], warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # runpy: module already imported
        try:
            if is_module:
                runpy.run_module(target, run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(str(ROOT / target), run_name="__main__")
        except _Parsed:
            return None
    return f"{target} ended without parsing its arguments through tyro or argparse"


def test_a_misspelled_flag_does_not_parse(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "```bash\ntrm-rl train-supervised --dta sudoku-4x4 --minutes 3   # typo\n"
        "python benchmarks/env_throughput.py --batch-sise 8\n"
        "trm-rl evaluate --run runs/s4 && python -m experiments.cpu_flagship sudoku-9x9 \\\n"
        "    --runs runs/s9/seed1\n```\n"
    )
    commands = bash_commands(readme)
    assert [n for n, _ in commands] == [2, 3, 4, 4]
    errors = [parse_error(argv) for _, argv in commands]
    assert errors[0] and "--dta" in errors[0]
    assert errors[1] and "--batch-sise" in errors[1]
    assert errors[2:] == [None, None]


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_readme_command_parses(readme: Path) -> None:
    bad = [
        f"{readme.relative_to(ROOT)}:{line}: {' '.join(argv)}\n    {error}"
        for line, argv in bash_commands(readme)
        if (error := parse_error(argv))
    ]
    assert not bad, "README commands that do not parse:\n" + "\n".join(bad)


def test_every_registry_command_parses(registry: claims.Registry) -> None:
    bad = []
    for job in registry.jobs.values():
        for step in steps(job, Path("runs/reproduce"), registry, strict=False):
            if error := parse_error(list(step.argv)):
                bad.append(f"[jobs.{job.name}] step {step.index}: {step.text}\n    {error}")
    assert not bad, "experiments/claims.toml commands that do not parse:\n" + "\n".join(bad)


# ----------------------------------------------------------------------- coverage
def test_every_quoted_number_has_a_claim(registry: claims.Registry) -> None:
    missing, lacking = coverage(registry)
    lines = [f"{n.file}:{n.line}: {n.text!r}" for n in missing]
    assert not lines, (
        "numbers quoted in a README without an entry in experiments/claims.toml: add a "
        "[[claims]] entry (file, quoted, metric, job + measure, or untraceable = why) or an "
        "[[ignore]] entry with a reason:\n" + "\n".join(lines)
    )
    assert not lacking, "generated blocks / benchmark files without a claim: " + ", ".join(lacking)


def test_registry_entries_are_in_the_readmes(registry: claims.Registry) -> None:
    """No stale entry: every claim's numbers and every ignored text appear in their files."""
    text = {}

    def has(file: str, quoted: str) -> bool:
        if file not in text:
            path = ROOT / file
            text[file] = (
                " ".join(path.read_text(encoding="utf-8").split()) if path.is_file() else ""
            )
        return quoted in text[file]

    stale = []
    for c in registry.claims:
        numbers = () if c.block else (c.quoted, *c.also)
        stale += [f"claim {c.id}: {f} quotes none of {numbers}"
                  for f in c.files if numbers and not any(has(f, q) for q in numbers)]  # fmt: skip
        stale += [f"claim {c.id}: {q!r} in none of {c.files}"
                  for q in numbers if not any(has(f, q) for f in c.files)]  # fmt: skip
    for entry in registry.ignore:
        stale += [f"ignore {entry.files}: {t!r} is in none of them"
                  for t in entry.texts if not any(has(f, t) for f in entry.files)]  # fmt: skip
    assert not stale, "stale entries in experiments/claims.toml:\n" + "\n".join(stale)


def test_scan_finds_percentages_ratios_and_units(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "TRM 99.4% exact, 1.4x faster on 9x9 mazes, 34-84 env\nsteps/s, 7-13% within 2x;\n"
        "about 4 min, `--minutes 3` and 30k steps/s.\n"
        "```bash\ntrm-rl sweep  # 50% in code\n```\n"
        "<!-- report:begin -->\n| 12.5% |\n<!-- report:end -->\nx256 widths, 3.0 steps\n"
    )
    found = [(n.line, n.text) for n in scan_numbers(readme, tmp_path)]
    assert found == [
        (1, "99.4%"), (1, "1.4x"), (1, "34-84 env steps/s"), (2, "7-13%"), (2, "2x"),
        (3, "4 min"), (3, "30k steps/s"),
    ]  # fmt: skip
    assert claims.generated_blocks(readme) == [("report", 7)]
    assert claims.parse_quoted("7-13%") == (7.0, 13.0)
    assert claims.parse_quoted("5,542 env-steps/s") == (5542.0, 5542.0)


def test_registry_lists_untraceable_claims(registry: claims.Registry, capsys) -> None:
    untraceable = [c for c in registry.claims if c.job is None]
    assert untraceable and all(c.untraceable for c in untraceable)
    cli_main(["reproduce", "--list", "--root", "/nonexistent/reproduce"])
    out = capsys.readouterr().out
    assert "untraceable" in out and "sup-s4-3min-halt" in out
    assert not Path("/nonexistent/reproduce").exists()


# ----------------------------------------------------------------------- the runner on toy jobs
TOY = """
[jobs.count]
seeds = [0, 1]
commands = [
    "python -c \\"import json,pathlib,sys; p=pathlib.Path(sys.argv[1]); p.parent.mkdir(parents=True, exist_ok=True); n=int(p.read_text()) if p.exists() else 0; p.write_text(str(n + 1))\\" {dir}/../calls-{seed}",
    "python -c \\"import json; print(json.dumps({{'score': 0.9 + 0.02 * {seed}}}))\\"",
    "python -c \\"print('run,score'); print('a,0.5'); print('b,0.7')\\" > {dir}/runs.csv",
]
cost_minutes = 0.1

[jobs.broken]
commands = ["python -c \\"import sys; sys.exit(3)\\""]

[jobs.after-broken]
needs = ["broken"]
commands = ["python -c \\"print('{jobs[broken]}')\\""]

[[claims]]
id = "toy-score"
file = "README.md"
quoted = "91%"
metric = "a toy score"
job = "count"
measure = { file = "step1.stdout", key = "score", scale = 100 }
tolerance = 1.5

[[claims]]
id = "toy-csv"
file = "README.md"
quoted = "60%"
metric = "toy rows"
job = "count"
seeds = [1]
measure = { file = "runs.csv", column = "score", where = { run = "b" }, scale = 100 }
tolerance = 5

[[claims]]
id = "toy-broken"
file = "README.md"
quoted = "1x"
metric = "never measured"
job = "after-broken"
measure = { elapsed = "all" }
tolerance = 1

[[claims]]
id = "toy-untraceable"
file = "README.md"
quoted = "2%"
metric = "no command"
untraceable = "no artifact"
"""


def test_runner_runs_resumes_and_compares(tmp_path: Path, capsys) -> None:
    registry_path = tmp_path / "claims.toml"
    registry_path.write_text(TOY)
    root = tmp_path / "runs"
    args = ReproduceArgs(only=("toy-*",), root=root, registry=registry_path)

    dry = ReproduceArgs(only=("count",), root=root, registry=registry_path, dry_run=True)
    assert reproduce.run(dry) == 0 and not root.exists()  # a dry run creates nothing
    assert "runs/count/s1/runs.csv" in capsys.readouterr().out.replace("\\", "/")

    assert reproduce.run(args) == 1  # the broken job fails; the others go on
    out = capsys.readouterr().out
    assert "FAILED (exit 3)" in out and "after-broken: skipped" in out
    assert (root / "count" / "s0" / "step0.done.json").is_file()
    assert not (root / "broken" / "step0.done.json").exists()

    assert reproduce.run(args) == 1  # resumed: finished steps are not run again
    assert "done before, skipped" in capsys.readouterr().out
    assert [(root / "count" / f"calls-{s}").read_text() for s in (0, 1)] == ["1", "1"]

    with open(root / "summary.csv", newline="") as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"toy-score", "toy-csv"}
    assert rows["toy-score"]["n"] == "2" and rows["toy-score"]["within"] == "True"
    assert float(rows["toy-score"]["mean"]) == pytest.approx(91.0)
    assert rows["toy-csv"]["n"] == "1" and rows["toy-csv"]["within"] == "False"  # 70 vs 60 ± 5

    registry = load_registry(registry_path)
    status = {c.id: reproduce.outcome(c, root, registry).status for c in registry.claims}
    assert status == {"toy-score": "measured", "toy-csv": "measured",
                      "toy-broken": "not yet", "toy-untraceable": "untraceable"}  # fmt: skip
    marker = json.loads((root / "count" / "s1" / "step2.done.json").read_text())
    assert marker["returncode"] == 0 and "runs.csv" in marker["stdout"]


def test_bad_registry_entries_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "claims.toml"
    bad.write_text('[[claims]]\nid = "x"\nfile = "README.md"\nquoted = "5%"\nmetric = "m"\n')
    with pytest.raises(ValueError, match="untraceable"):
        load_registry(bad)
    bad.write_text('[jobs.j]\ncommands = ["bash -c true"]\n')
    with pytest.raises(ValueError, match="trm-rl or python"):
        load_registry(bad)


def test_compare_by_group_means(tmp_path: Path) -> None:
    """``group_mean``: runs that differ one by one (float differences across machines) but
    agree in each variant's mean pass; a variant whose mean moved shows its shift."""
    fields = ["run", "variant", "task", "score"]
    committed = [("a-s0", "A", "t", 0.90), ("a-s1", "A", "t", 0.70), ("b-s0", "B", "t", 0.2),
                 ("b-s1", "B", "t", 0.4), ("a-s0.x", "A", "x", 0.1)]  # fmt: skip
    measured = [("a-s0", "A", "t", 0.70), ("a-s1", "A", "t", 0.90), ("b-s0", "B", "t", 0.5),
                ("b-s1", "B", "t", 0.5), ("a-s0.x", "A", "x", 0.9)]  # fmt: skip
    for name, rows in (("committed.csv", committed), ("measured.csv", measured)):
        with (tmp_path / name).open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(fields)
            writer.writerows(rows)
    m = {"column": "score", "compare": str(tmp_path / "committed.csv"), "on": ["task", "variant"],
         "group_mean": True, "where": {"task": "t"}, "scale": 100}  # fmt: skip
    values = reproduce._csv_values(m, tmp_path / "measured.csv")
    assert [round(v, 6) for v in values] == [0.0, 0.2]  # A: 0.8 vs 0.8; B: 0.5 vs 0.3 (x: filtered)
    by_run = {**m, "on": ["run"], "group_mean": False}
    assert [round(v, 6) for v in reproduce._csv_values(by_run, tmp_path / "measured.csv")] == [
        0.2, 0.2, 0.3, 0.1]  # fmt: skip
