"""Paired comparisons of PPO policies on the same puzzles: ``evaluate-ppo``'s per-puzzle
``outcomes_2x`` and ``paired`` entry, the puzzle fingerprint, and ``trm-rl compare-ppo``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_ppo_train import tiny_run

import experiments.stats
import trm_rl.stats
from experiments.cli import main
from trm_rl.policies import train as train_module
from trm_rl.policies.evaluate import EpisodeStats
from trm_rl.policies.paired import (
    compare_reports,
    outcomes_text,
    paired_entry,
    puzzles_sha1,
    read_outcomes,
)
from trm_rl.policies.train import evaluate_ppo, load_heldout, train_ppo
from trm_rl.stats import mcnemar

pytestmark = pytest.mark.usefixtures("one_torch_thread")

EPISODES = 16
#: The summary keys every variant had before outcomes were recorded (committed JSONs hold them).
SUMMARY_KEYS = {"episodes", "success", "success_2x", "length_ratio", "mean_length",
                "mean_optimal", "max_length_ratio"}  # fmt: skip


@pytest.fixture(scope="module")
def sudoku_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("paired") / "s4"
    train_ppo(tiny_run(out))
    return out


@pytest.fixture(scope="module")
def report(sudoku_run: Path) -> dict:
    return evaluate_ppo(sudoku_run, episodes=EPISODES, device="cpu")


def hand_count(before: str, after: str) -> tuple[int, int]:
    """(solved only before, solved only after), one character at a time."""
    b = sum(x == "1" and y == "0" for x, y in zip(before, after, strict=True))
    c = sum(x == "0" and y == "1" for x, y in zip(before, after, strict=True))
    return b, c


def fake_report(sha: str = "f" * 40, **outcomes: str | None) -> dict:
    """A hand-made evaluate-ppo report with the given variants' outcome strings."""
    out: dict = {"env": "trm_rl/Sudoku-4x4-v0", "puzzles_sha1": sha}
    for name, text in outcomes.items():
        rate = None if text is None else text.count("1") / len(text)
        out[name] = {"episodes": 4, "success_2x": rate, "outcomes_2x": text}
    return out


# ------------------------------------------------------------------------------- evaluate-ppo
def test_every_variant_keeps_its_summary_and_one_outcome_per_puzzle(report: dict) -> None:
    for key in ("deterministic", "stochastic", "random", "oracle"):
        result = report[key]
        assert set(result) >= SUMMARY_KEYS
        text = result["outcomes_2x"]
        assert len(text) == result["episodes"] == EPISODES and set(text) <= {"0", "1"}
        assert text.count("1") / EPISODES == pytest.approx(result["success_2x"])
    assert report["oracle"]["outcomes_2x"] == "1" * EPISODES


def test_the_report_fingerprints_the_puzzles_it_played(sudoku_run: Path, report: dict) -> None:
    held = load_heldout(sudoku_run)["test_puzzles"]
    assert report["puzzles_sha1"] == puzzles_sha1(held[:EPISODES])
    assert report["puzzles_sha1"] != puzzles_sha1(held[: EPISODES - 1])


def test_paired_entry_matches_a_hand_count(report: dict) -> None:
    assert set(report["paired"]) == {"stochastic"}  # not random, not oracle
    entry = report["paired"]["stochastic"]
    b, c = hand_count(report["deterministic"]["outcomes_2x"], report["stochastic"]["outcomes_2x"])
    assert (entry["vs"], entry["b"], entry["c"], entry["n"]) == ("deterministic", b, c, EPISODES)
    assert entry["p_value"] == pytest.approx(mcnemar(b, c).p_value)
    change = report["stochastic"]["success_2x"] - report["deterministic"]["success_2x"]
    assert entry["difference"] == pytest.approx(change)
    json.dumps(report)  # still JSON-ready


def test_each_policy_plays_once_and_a_short_cap_leaves_outcomes_unknown(
    sudoku_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    play = train_module.play_episodes

    def counted(*args, **kwargs):
        calls.append(args[1])
        return play(*args, **kwargs)

    monkeypatch.setattr(train_module, "play_episodes", counted)
    capped = evaluate_ppo(
        sudoku_run, episodes=4, device="cpu", stochastic=False, max_length_ratio=1.5
    )
    assert len(calls) == 3  # deterministic, random, oracle: nothing played twice
    assert capped["deterministic"]["outcomes_2x"] is None and capped["paired"] is None
    assert capped["deterministic"]["success_2x"] is None


def test_episode_stats_success_2x_per_puzzle() -> None:
    length, optimal = np.array([3, 9, 5, 8]), np.array([3, 4, 5, 4])
    solved = np.array([True, True, False, True])
    stats = EpisodeStats(length, optimal, solved)
    assert stats.success_2x().tolist() == [True, False, False, True]
    assert stats.summary().success_2x == 0.5
    assert EpisodeStats(length, optimal, solved, 1.5).success_2x() is None


# ------------------------------------------------------------------------------------ helpers
def test_outcome_strings_round_trip_and_refuse_other_text() -> None:
    flags = np.array([True, False, False, True])
    assert outcomes_text(flags) == "1001" and outcomes_text(flags.astype(int)) == "1001"
    assert read_outcomes("1001").tolist() == flags.tolist()
    for bad in ("", "10x1", None, 101):
        with pytest.raises(ValueError, match="string of 0/1"):
            read_outcomes(bad, "A.json deterministic")
    with pytest.raises(ValueError, match="bools"):
        outcomes_text(np.array([0.5, 1.0]))


def test_puzzle_fingerprint_reads_values_shape_and_order() -> None:
    boards = np.arange(32).reshape(2, 4, 4) % 5
    assert puzzles_sha1(boards.astype(np.uint8)) == puzzles_sha1(boards.astype(np.int64))
    assert puzzles_sha1(boards) != puzzles_sha1(boards[::-1])
    assert puzzles_sha1(boards) != puzzles_sha1(boards.reshape(2, 2, 8))
    assert puzzles_sha1(["S. G", "S.#G"]) != puzzles_sha1(["S.#G", "S. G"])
    with pytest.raises(ValueError, match="cannot be fingerprinted"):
        puzzles_sha1([object(), object()])


def test_paired_entry_on_known_strings() -> None:
    entry = paired_entry("110100", "011110", "deterministic")
    assert (entry["b"], entry["c"], entry["n"]) == (1, 2, 6)
    assert entry["difference"] == pytest.approx(1 / 6)
    assert entry["p_value"] == pytest.approx(1.0)  # 2 * P(X <= 1), X ~ Bin(3, 1/2), capped
    with pytest.raises(ValueError, match="same puzzles"):
        paired_entry("110", "1100", "deterministic")


def test_re_exports_are_the_library_functions() -> None:
    assert experiments.stats.mcnemar is trm_rl.stats.mcnemar
    assert experiments.stats.paired_outcomes is trm_rl.stats.paired_outcomes
    assert experiments.stats.McNemarResult is trm_rl.stats.McNemarResult


# -------------------------------------------------------------------------------- compare-ppo
def test_compare_ppo_cli_on_two_reports(
    report: dict, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path_a, path_b = tmp_path / "A.json", tmp_path / "B.json"
    path_a.write_text(json.dumps(report))
    path_b.write_text(json.dumps(report))
    main(["compare-ppo", str(path_a), str(path_b), "--variant-b", "stochastic"])
    out = json.loads(capsys.readouterr().out)
    paired = report["paired"]["stochastic"]
    for key in ("b", "c", "n", "p_value", "difference"):
        assert out[key] == pytest.approx(paired[key])
    assert out["success_2x_a"] == pytest.approx(report["deterministic"]["success_2x"])
    assert out["success_2x_b"] == pytest.approx(report["stochastic"]["success_2x"])
    assert (out["variant_a"], out["variant_b"]) == ("deterministic", "stochastic")
    assert out["file_a"] == str(path_a) and out["puzzles_sha1"] == report["puzzles_sha1"]


def test_compare_reports_counts_hand_made_outcomes() -> None:
    a = fake_report(deterministic="1100", stochastic="0000")
    b = fake_report(deterministic="1011")
    out = compare_reports(a, b)
    assert (out["b"], out["c"], out["n"]) == (1, 2, 4)
    assert (out["success_2x_a"], out["success_2x_b"]) == (0.5, 0.75)
    assert out["difference"] == pytest.approx(0.25)
    assert out["p_value"] == pytest.approx(mcnemar(1, 2).p_value)


@pytest.mark.parametrize(
    ("a", "b", "variant", "match"),
    [
        (fake_report(deterministic="1100"), fake_report("0" * 40, deterministic="1100"),
         "deterministic", "different puzzles"),
        (fake_report(deterministic="1100"), fake_report(deterministic="11001"),
         "deterministic", "different puzzles"),
        (fake_report(deterministic="1100", stochastic="1000"), fake_report(deterministic="1100"),
         "halt", r"no variant 'halt'; it has deterministic, stochastic"),
        (fake_report(deterministic=None), fake_report(deterministic="1100"),
         "deterministic", "--max-length-ratio 2"),
        ({"deterministic": {}}, fake_report(deterministic="1100"), "deterministic",
         "not an evaluate-ppo report"),
    ],
)  # fmt: skip
def test_compare_reports_refusals(a: dict, b: dict, variant: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compare_reports(a, b, variant_a=variant)


def test_compare_ppo_cli_errors_are_one_line(tmp_path: Path, capsys) -> None:
    old = fake_report(deterministic="1100")
    del old["puzzles_sha1"], old["deterministic"]["outcomes_2x"]  # a report of an older trm-rl
    new = fake_report(deterministic="1100")
    other = fake_report("0" * 40, deterministic="1100")
    for name, content in (("old", old), ("new", new), ("other", other)):
        (tmp_path / f"{name}.json").write_text(json.dumps(content))
    (tmp_path / "bad.json").write_text("{not json")
    cases = [
        (["old.json", "new.json"], "re-run evaluate-ppo with this version"),
        (["new.json", "other.json"], "different puzzles"),
        (["new.json", "new.json", "--variant-b", "oracle"], "no variant 'oracle'"),
        (["new.json", "missing.json"], "does not exist"),
        (["bad.json", "new.json"], "is not a JSON file"),
    ]
    for args, match in cases:
        argv = [str(tmp_path / a) if a.endswith(".json") else a for a in args]
        with pytest.raises(SystemExit) as info:
            main(["compare-ppo", *argv])
        err = capsys.readouterr().err
        assert info.value.code == 2 and err.startswith("trm-rl compare-ppo: ")
        assert match in err and "Traceback" not in err
