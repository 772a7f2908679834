"""ACT thinking time of ``trm-carry`` policies: success and path length against TRM rounds per
env step, for every way of deciding how long to think.

    trm-rl evaluate-ppo --run runs/ppo/m9-act-s0 --max-length-ratio 2 \\
        --halt-thresholds 0.5 0.7 0.9 --confidence-thresholds 0.9 0.99 0.999 0.9999 \\
        --fixed-rounds 1 2 3 4 > runs/ppo/m9-act-s0.json
    python -m experiments.thinking_time runs/ppo/m9-act-s0.json \\
        --out results/ppo --readme results/ppo/README.md

Each ``evaluate-ppo`` JSON (one per run, i.e. per seed) gives one point per way of thinking:

- ``fixed``: exactly k rounds at every step (``deterministic_rounds_<k>``; the full thinking
  time, ``deterministic_full_thinking``, is the point at the cap when not played as such);
- ``head``: the TRM's learnt halting head, stop once ``sigmoid(q_halt) > t``
  (``deterministic_halt_<t>``; the run's own setting is t = 0.5);
- ``confidence``: stop once the most likely legal action has probability ``>= t``
  (``deterministic_confidence_<t>``; nothing learnt).

Rows go to ``OUT/thinking_time.csv`` (tidy: run, seed, env, criterion, threshold, rounds (mean
TRM rounds per action), success_2x with its binomial s.e., length_ratio (over the successful
episodes), episodes, random and oracle success on the same puzzles); the plot to
``OUT/plots/thinking_time.png``; the README block between ``<!-- thinking:begin -->`` and
``<!-- thinking:end -->`` is rendered from the CSV alone (:func:`table`, means over runs with
the range), and ``tests/test_results_readmes.py`` checks it.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro

from envs.utils import atomic_write
from experiments.collect import write_csv
from experiments.report import replace_block
from experiments.stats import binomial_se

FIELDS = [
    "run", "seed", "env", "criterion", "threshold", "rounds", "success_2x", "success_2x_se",
    "length_ratio", "episodes", "random_success_2x", "oracle_success_2x",
]  # fmt: skip
#: The ways of thinking, in table order, and how the README names them.
CRITERIA = {
    "fixed": "fixed rounds",
    "head": "learnt halting head",
    "confidence": "policy confidence",
}
BEGIN, END = "<!-- thinking:begin -->", "<!-- thinking:end -->"
_KEYS = (
    (re.compile(r"deterministic_rounds_(\d+)$"), "fixed"),
    (re.compile(r"deterministic_halt_([0-9.e-]+)$"), "head"),
    (re.compile(r"deterministic_confidence_([0-9.e-]+)$"), "confidence"),
)


def points(report: dict, run: str, seed: int | str = "") -> list[dict]:
    """The CSV rows of one ``evaluate-ppo`` report (one per way of thinking it played).

    :raises ValueError: for a report without any thinking-time variant (evaluate a run trained
        with ``--think-rounds`` and pass ``--halt-thresholds``, ``--confidence-thresholds`` or
        ``--fixed-rounds``).
    """
    rows = []
    items = list(report.items())
    full = report.get("deterministic_full_thinking")
    if isinstance(full, dict) and full.get("think_steps"):
        # thinking every round: the fixed-rounds point at the cap, unless played as such
        cap = round(float(full["think_steps"]))
        if f"deterministic_rounds_{cap}" not in report:
            items.append((f"deterministic_rounds_{cap}", full))
    for key, result in items:
        for pattern, criterion in _KEYS:
            match = pattern.match(key)
            if match and isinstance(result, dict):
                n = int(result["episodes"])
                p = float(result["success_2x"])
                rows.append({
                    "run": run, "seed": seed, "env": report["env"], "criterion": criterion,
                    "threshold": match.group(1), "rounds": round(float(result["think_steps"]), 4),
                    "success_2x": round(p, 4), "success_2x_se": round(binomial_se(p, n), 4),
                    "length_ratio": round(float(result["length_ratio"]), 4), "episodes": n,
                    "random_success_2x": round(float(report["random"]["success_2x"]), 4),
                    "oracle_success_2x": round(float(report["oracle"]["success_2x"]), 4),
                })  # fmt: skip
    if not rows:
        raise ValueError(
            f"{run}: no thinking-time variant in this evaluate-ppo report; evaluate a trm-carry "
            "run trained with --think-rounds, with --halt-thresholds, --confidence-thresholds "
            "or --fixed-rounds"
        )
    return rows


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a thinking-time CSV ([] when missing)."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _groups(rows: list[dict[str, str]]) -> list[tuple[str, str, list[dict[str, str]]]]:
    """``(criterion, threshold, rows)`` in table order: criteria as in :data:`CRITERIA`,
    thresholds ascending."""
    out = []
    for criterion in CRITERIA:
        mine = [r for r in rows if r["criterion"] == criterion]
        for threshold in sorted({r["threshold"] for r in mine}, key=float):
            out.append((criterion, threshold, [r for r in mine if r["threshold"] == threshold]))
    return out


def table(rows: list[dict[str, str]]) -> str:
    """The markdown table of the rows: per env, way of thinking and threshold, the runs, the
    mean rounds per step, success within 2x optimal (mean [min, max] over runs, and one run's
    binomial s.e.) and the length ratio; random and oracle lines close each env."""
    lines = []
    for env in sorted({r["env"] for r in rows}):
        mine = [r for r in rows if r["env"] == env]
        episodes = sorted({int(r["episodes"]) for r in mine})
        lines += [
            f"**{env}**, {'/'.join(map(str, episodes))} test puzzles per run:",
            "",
            "| thinking | threshold | runs | rounds / step | success within 2x, % "
            "[min, max] | s.e. of one run, % | length ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        for criterion, threshold, group in _groups(mine):
            rounds = np.array([float(r["rounds"]) for r in group])
            success = np.array([float(r["success_2x"]) for r in group])
            se = np.mean([float(r["success_2x_se"]) for r in group])
            ratio = np.array([float(r["length_ratio"]) for r in group])
            shown = "-" if criterion == "fixed" else threshold
            lines.append(
                f"| {CRITERIA[criterion]} | {shown} | {len(group)} | {rounds.mean():.2f} | "
                f"{_range(success)} | {100 * se:.1f} | {ratio.mean():.3f} |"
            )
        for name in ("random", "oracle"):
            per_run = {r["run"]: float(r[f"{name}_success_2x"]) for r in mine}
            values = np.array(list(per_run.values()))
            label = "random legal policy" if name == "random" else "oracle (BFS)"
            lines.append(f"| {label} | - | - | - | {_range(values)} | - | - |")
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def _range(x: np.ndarray) -> str:
    if len(x) == 1:
        return f"{100 * x[0]:.1f}"
    return f"{100 * x.mean():.1f} [{100 * x.min():.1f}, {100 * x.max():.1f}]"


def render(readme: Path, rows: list[dict[str, str]]) -> str:
    """``readme``'s text with the thinking-time block replaced by :func:`table` of ``rows``.

    :raises ValueError: when the README lacks the markers.
    """
    return replace_block(readme, table(rows), BEGIN, END)


def plot(rows: list[dict[str, str]], path: Path) -> Path:
    """Success within 2x optimal and length ratio against mean rounds per step, one line per
    way of thinking (each run's points; the mean over runs joined), written to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = sorted({r["env"] for r in rows})
    fig, axes = plt.subplots(len(envs), 2, figsize=(10, 3.6 * len(envs)), squeeze=False)
    markers = {"fixed": "s", "head": "^", "confidence": "o"}
    for (left, right), env in zip(axes, envs, strict=True):
        mine = [r for r in rows if r["env"] == env]
        for criterion, label in CRITERIA.items():
            groups = [g for c, _, g in _groups(mine) if c == criterion]
            if not groups:
                continue
            x = [np.mean([float(r["rounds"]) for r in g]) for g in groups]
            order = np.argsort(x)
            for axis, key in ((left, "success_2x"), (right, "length_ratio")):
                scale = 100 if key == "success_2x" else 1
                y = [scale * np.mean([float(r[key]) for r in g]) for g in groups]
                axis.plot(np.array(x)[order], np.array(y)[order], marker=markers[criterion],
                          label=label)  # fmt: skip
        left.set(xlabel="mean TRM rounds per env step", ylabel="success within 2x optimal, %",
                 title=env)  # fmt: skip
        right.set(xlabel="mean TRM rounds per env step", ylabel="length ratio (1 = optimal)",
                  title=env)  # fmt: skip
        for axis in (left, right):
            axis.grid(alpha=0.3)
        left.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)
    return path


@dataclass
class ThinkingArgs:
    """Collect evaluate-ppo reports of ACT trm-carry runs into a thinking-time table and plot."""

    reports: tyro.conf.Positional[tuple[Path, ...]]
    """evaluate-ppo JSON files (one per run; <run>.json beside the run directory gives the seed)."""
    out: Path = Path("results/ppo")
    """Where thinking_time.csv and plots/thinking_time.png go (rows of the same runs are
    replaced, others kept)."""
    readme: Path | None = None
    """Re-render this README's <!-- thinking:begin/end --> block from the CSV."""


def _seed(report_path: Path, report: dict) -> int | str:
    run = Path(report.get("run", report_path.with_suffix("")))
    config = run / "config.json"
    if not config.exists():
        return ""
    data = json.loads(config.read_text())
    tree = data.get("config", data.get("options", {}))
    return tree.get("seed", "")


def main(argv: list[str] | None = None) -> None:
    args = tyro.cli(ThinkingArgs, args=argv)
    try:
        path = args.out / "thinking_time.csv"
        new = []
        for report_path in args.reports:
            try:
                report = json.loads(report_path.read_text())
            except (OSError, json.JSONDecodeError) as err:
                raise ValueError(f"{report_path} is not an evaluate-ppo JSON: {err}") from None
            run = Path(report.get("run", report_path.stem)).name
            new += points(report, run, _seed(report_path, report))
        names = {r["run"] for r in new}
        rows = [r for r in read_rows(path) if r["run"] not in names] + new
        if not rows:
            raise ValueError("no reports given and no thinking_time.csv to render")
        rows.sort(key=lambda r: (r["env"], str(r["run"])))
        if new:
            args.out.mkdir(parents=True, exist_ok=True)
            write_csv(path, rows, FIELDS)
        rows = read_rows(path)
        print(table(rows))
        print(f"plot: {plot(rows, args.out / 'plots' / 'thinking_time.png')}")
        if args.readme is not None:
            text = render(args.readme, rows)
            with atomic_write(args.readme) as f:
                f.write(text)
    except ValueError as err:
        raise SystemExit(f"thinking_time: {' '.join(str(err).split())}") from None


if __name__ == "__main__":
    main()
