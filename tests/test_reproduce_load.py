"""The reproduce runner's machine record and ``--background``: every step marker holds the CPU
count, the load averages and the versions that explain its wall time; ``--report`` and
summary.csv show the wall minutes and the load (blank for older markers); ``--background``
refuses what it cannot do and starts a detached run that finishes its steps on its own."""

from __future__ import annotations

import csv
import json
import os
import platform
import re
import subprocess
from pathlib import Path
from unittest import mock

import pytest

from experiments import reproduce
from experiments.cli import main as cli_main
from experiments.reproduce import ReproduceArgs, machine_summary

TOY = """
[jobs.nap]
seeds = [0, 1]
commands = ["python -c \\"import time; time.sleep(0.3); print({{'score': 50 + {seed}}})\\""]

[[claims]]
id = "toy-nap"
file = "README.md"
quoted = "50%"
metric = "a toy score"
job = "nap"
measure = { file = "step0.stdout", regex = "'score': ([0-9.]+)" }
tolerance = 1
"""
HAS_LOAD = hasattr(os, "getloadavg")


@pytest.fixture
def toy(tmp_path: Path) -> tuple[Path, Path]:
    registry = tmp_path / "claims.toml"
    registry.write_text(TOY)
    return registry, tmp_path / "runs"


def _markers(root: Path) -> list[Path]:
    return sorted(root.glob("nap/s*/step0.done.json"))


def test_a_step_marker_records_the_machine_load(toy, capsys) -> None:
    registry, root = toy
    with mock.patch.object(reproduce, "LOAD_EVERY_S", 0.05):  # sample during the 0.3 s nap
        assert reproduce.run(ReproduceArgs(only=("nap",), root=root, registry=registry)) == 0
    capsys.readouterr()
    markers = _markers(root)
    assert len(markers) == 2
    record = json.loads(markers[0].read_text())
    assert record["cpus"] == os.cpu_count() and record["seconds"] >= 0.3
    assert record["python"] == platform.python_version() and "torch" in record
    assert not any("host" in key or "node" in key for key in record)  # nothing names the machine
    if HAS_LOAD:
        assert len(record["load_start"]) == len(record["load_end"]) == 3
        assert record["load_samples"] >= 3 and record["load_1m_mean"] >= 0


def test_report_shows_wall_and_load_and_reads_older_markers(toy, capsys) -> None:
    registry, root = toy
    assert reproduce.run(ReproduceArgs(only=("nap",), root=root, registry=registry)) == 0
    report = ReproduceArgs(report=True, root=root, registry=registry)

    assert reproduce.run(report) == 0
    out = capsys.readouterr().out
    assert "wall min" in out and "load/cpus" in out
    with open(root / "summary.csv", newline="") as f:
        (row,) = csv.DictReader(f)
    assert float(row["wall_min"]) >= 0.6 / 60 and row["cpus"] == str(os.cpu_count())
    if HAS_LOAD:
        assert float(row["load_1m"]) >= 0
        assert re.search(rf"toy-nap .* {float(row['load_1m']):.2f}/{os.cpu_count()} ", out)

    for marker in _markers(root):  # as written before the machine record
        old = json.loads(marker.read_text())
        keep = ("command", "returncode", "seconds", "finished", "stdout")
        marker.write_text(json.dumps({k: old[k] for k in keep}))
    assert reproduce.run(report) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("toy-nap"))
    assert line.split()[-2:] == ["-", "yes"]  # load unknown, the claim still measured
    with open(root / "summary.csv", newline="") as f:
        (row,) = csv.DictReader(f)
    assert row["load_1m"] == row["cpus"] == "" and float(row["wall_min"]) > 0
    assert row["within"] == "True"


def test_machine_summary_weights_the_load_by_step_time() -> None:
    records = [
        {"seconds": 60, "cpus": 2, "load_1m_mean": 1.0},
        {"seconds": 180, "cpus": 2, "load_start": [2.0, 0, 0], "load_end": [4.0, 0, 0]},
        {"seconds": 60},  # an older marker: counts for the wall time only
    ]
    wall, load, cpus = machine_summary(records)
    assert wall == pytest.approx(5.0) and load == pytest.approx(2.5) and cpus == "2"
    assert machine_summary([{"seconds": 30, "cpus": 2}, {"seconds": 30, "cpus": 16}])[1:] == (
        None,
        "2/16",
    )


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--background"], "--background needs --only"),
        (["--only", "nap", "--background", "--dry-run"], "cannot go with --dry-run"),
        (["--only", "nap", "--background", "--report"], "cannot go with --report"),
        (["--background", "--list"], "cannot go with --list"),
    ],
)
def test_background_refuses_what_it_cannot_do(toy, argv, says) -> None:
    registry, root = toy
    more = ["--root", str(root), "--registry", str(registry)]
    with mock.patch.object(reproduce, "background") as start:
        with pytest.raises(SystemExit) as exit_:
            reproduce.main([*argv, *more])
        assert says in str(exit_.value.code)
        with pytest.raises(SystemExit):  # the trm-rl command refuses it the same way
            cli_main(["reproduce", *argv, *more])
    start.assert_not_called()
    assert not root.exists()


def test_background_starts_a_detached_run_that_writes_its_markers(toy, capsys) -> None:
    registry, root = toy
    started: list[subprocess.Popen] = []

    def spy(args: ReproduceArgs) -> subprocess.Popen:
        started.append(real(args))
        return started[-1]

    real = reproduce.background
    args = ReproduceArgs(only=("toy-nap",), root=root, registry=registry, background=True)
    with mock.patch.object(reproduce, "background", spy):
        assert reproduce.run(args) == 0  # returns at once
    (proc,) = started
    out = capsys.readouterr().out
    assert f"pid {proc.pid}" in out and "tail -f" in out and "--report" in out
    try:
        if hasattr(os, "getsid"):  # a session of its own: the terminal's hangup does not reach it
            assert os.getsid(proc.pid) == proc.pid != os.getsid(0)
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:  # only the process this test started
            proc.kill()
            proc.wait()
    assert len(_markers(root)) == 2
    log = (root / "reproduce.log").read_text()
    assert "started:" in log and "--only toy-nap" in log and "done in" in log
    assert log.splitlines()[-1].startswith("toy-nap") and log.rstrip().endswith("yes")
