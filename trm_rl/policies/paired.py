"""Paired comparisons of policies scored on the same puzzles (McNemar's test).

Two success rates measured on the same N puzzles are not independent samples: the puzzles both
policies solve (or both fail) say nothing about which is better, and only the discordant ones
do (:func:`trm_rl.stats.mcnemar`). A report therefore keeps every variant's per-puzzle result:

- ``outcomes_2x``: one character per puzzle, in puzzle order, ``"1"`` when the episode
  succeeded within twice the optimal length (the headline ``success_2x``), else ``"0"``
  (:func:`outcomes_text`, read back by :func:`read_outcomes`);
- ``puzzles_sha1``: a fingerprint of the puzzle set (:func:`puzzles_sha1`), so that two reports
  are only compared on the same puzzles in the same order.

:func:`paired_entry` tests one variant against another of the same report (``evaluate-ppo``'s
``paired``); :func:`compare_reports` one variant of a report against one of another
(``trm-rl compare-ppo A.json B.json``), e.g. a PPO fine-tuned policy against its step-0 policy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trm_rl.stats import mcnemar, paired_outcomes

__all__ = [
    "OUTCOMES_KEY",
    "PUZZLES_KEY",
    "compare_files",
    "compare_reports",
    "outcomes_text",
    "paired_entry",
    "puzzles_sha1",
    "read_outcomes",
]

#: A variant's per-puzzle outcomes in a report (see the module docstring).
OUTCOMES_KEY = "outcomes_2x"
#: The report's fingerprint of its puzzle set.
PUZZLES_KEY = "puzzles_sha1"
_RERUN = "re-run evaluate-ppo with this version of trm-rl to record them"


def outcomes_text(solved: np.ndarray) -> str:
    """Per-puzzle outcomes as a compact string: ``"1"`` solved, ``"0"`` not, in puzzle order.

    :param solved: (K,) bool (or 0/1) outcomes.
    :return: a string of K characters.
    """
    flags = np.asarray(solved)
    if flags.ndim != 1 or not np.isin(flags, (0, 1)).all():
        raise ValueError(f"solved must be (K,) bools, got shape {flags.shape} ({flags.dtype})")
    return "".join("1" if x else "0" for x in flags.tolist())


def read_outcomes(text: Any, where: str = "outcomes") -> np.ndarray:
    """The (K,) bool outcomes of an :func:`outcomes_text` string.

    :param text: the string of a report.
    :param where: names the string in an error (e.g. ``"A.json deterministic"``).
    :raises ValueError: for anything but a non-empty string of ``0``/``1``.
    """
    if not isinstance(text, str) or not text or set(text) - {"0", "1"}:
        raise ValueError(
            f"{where}: {OUTCOMES_KEY} must be a non-empty string of 0/1, one per puzzle, got "
            f"{str(text)[:40]!r}"
        )
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8) == ord("1")


def puzzles_sha1(puzzles: Sequence | np.ndarray) -> str:
    """A fingerprint of a puzzle set: the SHA-1 of its shape and its boards' values.

    Integer boards are hashed as int64, so the same puzzles read from a CSV or from a run's
    held-out split (stored in another integer type) give the same fingerprint.

    :param puzzles: (K, ...) boards, one per puzzle, in play order (an array, or a list of
        equal-shape arrays or of strings).
    :return: 40 hex digits.
    :raises ValueError: for puzzles that are not an array of numbers or strings.
    """
    board = np.asarray(puzzles)
    if board.dtype.kind in "biu":
        board = board.astype("<i8")
    elif board.dtype.kind not in "US":
        raise ValueError(
            f"puzzles of dtype {board.dtype} cannot be fingerprinted; pass an array of boards "
            "(digits or tokens) or of puzzle strings"
        )
    digest = hashlib.sha1(repr(board.shape).encode(), usedforsecurity=False)
    digest.update(np.ascontiguousarray(board).tobytes())
    return digest.hexdigest()


def paired_entry(before: str, after: str, vs: str) -> dict[str, Any]:
    """McNemar's test of ``after`` against ``before`` on the same puzzles.

    :param before: the reference's :func:`outcomes_text` string.
    :param after: the other's, on the same puzzles in the same order.
    :param vs: the reference's name, stored as ``"vs"``.
    :return: ``{"vs", "b", "c", "n", "p_value", "difference"}``: ``b`` puzzles solved only by
        the reference, ``c`` only by the other, ``n`` puzzles, the two-sided p-value (exact
        binomial below 25 discordant puzzles, else chi-square) and ``(c - b) / n``, the other's
        success rate minus the reference's.
    """
    reference, other = read_outcomes(before, vs), read_outcomes(after, f"against {vs}")
    b, c = paired_outcomes(reference, other)
    result = mcnemar(b, c, n=len(reference))
    return {
        "vs": vs,
        "b": b,
        "c": c,
        "n": len(reference),
        "p_value": result.p_value,
        "difference": result.difference,
    }


def compare_reports(
    report_a: dict[str, Any],
    report_b: dict[str, Any],
    variant_a: str = "deterministic",
    variant_b: str = "deterministic",
    *,
    name_a: str = "A",
    name_b: str = "B",
) -> dict[str, Any]:
    """McNemar's test of variant ``variant_b`` of ``report_b`` against ``variant_a`` of
    ``report_a``: two evaluate-ppo reports of the same puzzles.

    :param report_a: the reference report (an evaluate-ppo dict).
    :param report_b: the other report (may be the same one, with another variant).
    :param variant_a: a variant of ``report_a`` (``deterministic``, ``stochastic``,
        ``deterministic_halt_0.9``, ``random``, ``oracle``...).
    :param variant_b: a variant of ``report_b``.
    :param name_a: names ``report_a`` in errors and in the result (its file).
    :param name_b: names ``report_b``.
    :return: ``file_a``, ``variant_a``, ``success_2x_a`` and the same for ``b``, then ``env``,
        ``puzzles_sha1`` and :func:`paired_entry`'s ``b``, ``c``, ``n``, ``p_value``,
        ``difference`` (B minus A).
    :raises ValueError: when a report is not an evaluate-ppo report, lacks the variant (naming
        those it has), lacks per-puzzle outcomes or its fingerprint, or when the two were played
        on different puzzles.
    """
    sides = []
    for name, report, variant in ((name_a, report_a, variant_a), (name_b, report_b, variant_b)):
        if not isinstance(report, dict) or "env" not in report:
            raise ValueError(f"{name} is not an evaluate-ppo report (a JSON object with 'env')")
        result = report.get(variant)
        if not isinstance(result, dict) or "success_2x" not in result:
            have = sorted(k for k, v in report.items() if isinstance(v, dict) and "success_2x" in v)
            raise ValueError(f"{name} has no variant {variant!r}; it has {', '.join(have)}")
        if OUTCOMES_KEY not in result or PUZZLES_KEY not in report:
            raise ValueError(
                f"{name} holds no per-puzzle outcomes ({OUTCOMES_KEY}, {PUZZLES_KEY}): it was "
                f"written by an older trm-rl; {_RERUN}"
            )
        if result[OUTCOMES_KEY] is None:
            raise ValueError(
                f"{name} {variant}: success within 2x optimal is unknown (played with "
                "--max-length-ratio below 2); re-run evaluate-ppo with --max-length-ratio 2 or "
                "without it"
            )
        sides.append(read_outcomes(result[OUTCOMES_KEY], f"{name} {variant}"))
    if report_a[PUZZLES_KEY] != report_b[PUZZLES_KEY] or len(sides[0]) != len(sides[1]):
        raise ValueError(
            f"{name_a} and {name_b} were played on different puzzles ({PUZZLES_KEY} "
            f"{str(report_a[PUZZLES_KEY])[:12]} vs {str(report_b[PUZZLES_KEY])[:12]}, "
            f"{len(sides[0])} vs {len(sides[1])} puzzles); evaluate both on the same test "
            "puzzles (the same run split or --puzzles file, --episodes and --env)"
        )
    entry = paired_entry(
        report_a[variant_a][OUTCOMES_KEY], report_b[variant_b][OUTCOMES_KEY], variant_a
    )
    del entry["vs"]
    return {
        "file_a": name_a, "variant_a": variant_a, "success_2x_a": float(sides[0].mean()),
        "file_b": name_b, "variant_b": variant_b, "success_2x_b": float(sides[1].mean()),
        "env": report_a["env"], PUZZLES_KEY: report_a[PUZZLES_KEY], **entry,
    }  # fmt: skip


def compare_files(
    path_a: str | Path,
    path_b: str | Path,
    variant_a: str = "deterministic",
    variant_b: str = "deterministic",
) -> dict[str, Any]:
    """:func:`compare_reports` on two evaluate-ppo JSON files (``trm-rl compare-ppo``).

    :raises ValueError: for a missing or unreadable file, and as :func:`compare_reports`.
    """
    reports = []
    for path in (Path(path_a), Path(path_b)):
        if not path.is_file():
            raise ValueError(f"{str(path)!r} does not exist; pass an evaluate-ppo JSON file")
        try:
            reports.append(json.loads(path.read_text()))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{str(path)!r} is not a JSON file ({e})") from None
    return compare_reports(*reports, variant_a, variant_b, name_a=str(path_a), name_b=str(path_b))
