"""Every generated table in a committed results README matches what its CSVs give: editing a
number by hand, or changing runs.csv without re-rendering, fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.report import BEGIN, check_readme

ROOT = Path(__file__).resolve().parent.parent
READMES = sorted(
    p for p in (ROOT / "results").glob("*/README.md") if BEGIN in p.read_text(encoding="utf-8")
)


def test_the_results_have_generated_tables() -> None:
    assert {p.parent.name for p in READMES} >= {"k_cycles", "ppo"}


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.parent.name)
def test_committed_tables_match_the_csvs(readme: Path) -> None:
    diff = check_readme(readme.parent, readme)
    assert diff == [], (
        f"{readme.relative_to(ROOT)} differs from its CSVs; re-render it with "
        f"trm-rl report {readme.parent.relative_to(ROOT)} --readme {readme.relative_to(ROOT)}:\n"
        + "\n".join(diff[:40])
    )


def test_the_flagship_tables_match_their_csvs() -> None:
    """results/cpu_flagship/README.md's generated blocks are what its CSVs give."""
    from experiments import cpu_flagship

    readme = ROOT / "results" / "cpu_flagship" / "README.md"
    text = readme.read_text(encoding="utf-8")
    rendered = [task for task in cpu_flagship.TASKS if cpu_flagship.markers(task)[0] in text]
    assert rendered, f"{readme.relative_to(ROOT)} renders no flagship table"
    for task in rendered:
        rows = cpu_flagship.read_rows(readme.parent / f"{task}.csv")
        assert rows, f"{task}.csv is missing beside {readme.relative_to(ROOT)}"
        assert cpu_flagship.render(readme, task, rows) == text, (
            f"{readme.relative_to(ROOT)} differs from {task}.csv; re-render it with python -m "
            f"experiments.cpu_flagship {task} --readme {readme.relative_to(ROOT)}"
        )


def test_the_thinking_time_table_matches_its_csv() -> None:
    """results/ppo/README.md's thinking-time block is what thinking_time.csv gives."""
    from experiments import thinking_time

    readme = ROOT / "results" / "ppo" / "README.md"
    rows = thinking_time.read_rows(readme.parent / "thinking_time.csv")
    assert rows, "results/ppo/thinking_time.csv is missing"
    assert thinking_time.render(readme, rows) == readme.read_text(encoding="utf-8"), (
        "results/ppo/README.md differs from thinking_time.csv; re-render it with python -m "
        "experiments.thinking_time --out results/ppo --readme results/ppo/README.md"
    )
