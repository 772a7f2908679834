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
