"""add_flops: a done run's validation curve gets its training FLOPs, PPO curves included."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path

from experiments.sweep import add_flops

RESULT = Path(__file__).parents[1] / "results/k_cycles-ppo/ppo-maze-7x7-mlp-s0/result.json"


def test_ppo_validation_points_without_split_or_flops_get_both() -> None:
    result = json.loads(RESULT.read_text())
    for point in result["curves"]:  # as PPO results were written before curves named a split
        point.pop("split", None)
        point.pop("flops", None)
    assert add_flops(result)
    points = [c for c in result["curves"] if c["metric"] == "val/score"]
    assert points and all(c["split"] == "val" for c in points)
    flops = [c["flops"] for c in sorted(points, key=lambda c: c["step"])]
    assert flops[0] == 0 and all(a < b for a, b in itertools.pairwise(flops))
    final = next(r for r in result["rows"] if r["run"] == result["spec"]["name"])
    assert flops[-1] <= float(final["flops"])


def test_a_filled_or_failed_result_is_left_alone() -> None:
    result = json.loads(RESULT.read_text())
    assert not add_flops(copy.deepcopy(result))  # every value already there
    failed = {**copy.deepcopy(result), "status": "failed: RuntimeError: boom"}
    for point in failed["curves"]:
        point["flops"] = ""
    assert not add_flops(failed)
    assert all(c["flops"] == "" for c in failed["curves"])
