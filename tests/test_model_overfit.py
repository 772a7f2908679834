"""End to end: a tiny TRM memorises a handful of 4x4 Sudokus (100% exact accuracy)."""

from __future__ import annotations

import functools
import itertools
import time

import numpy as np
import torch

from trm_rl.model import TRM, TRMConfig
from trm_rl.model.losses import act_loss

BLANK = 1  # tokens: pad 0, blank 1, digit d -> d + 1 (vocab 6)


@functools.cache
def all_4x4_solutions() -> tuple[np.ndarray, ...]:
    """Every valid 4x4 Sudoku grid (288), by brute force over row permutations."""
    rows = list(itertools.permutations(range(1, 5)))
    grids = []
    for combo in itertools.product(rows, repeat=4):
        grid = np.array(combo)
        cols_ok = all(len(set(grid[:, c])) == 4 for c in range(4))
        boxes_ok = all(
            len(set(grid[r : r + 2, c : c + 2].ravel())) == 4 for r in (0, 2) for c in (0, 2)
        )
        if cols_ok and boxes_ok:
            grids.append(grid)
    return tuple(grids)


def make_puzzles(count: int, blanks: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    solutions = all_4x4_solutions()
    chosen = rng.choice(len(solutions), size=count, replace=False)
    labels = np.stack([solutions[i].ravel() + 1 for i in chosen])  # [N, 16] tokens 2..5
    inputs = labels.copy()
    for row in inputs:
        row[rng.choice(16, size=blanks, replace=False)] = BLANK
    return torch.as_tensor(inputs), torch.as_tensor(labels)


def test_brute_force_finds_all_288_grids() -> None:
    assert len(all_4x4_solutions()) == 288


def test_tiny_trm_overfits_eight_4x4_sudokus() -> None:
    torch.manual_seed(0)
    inputs, labels = make_puzzles(count=8, blanks=8, seed=0)
    cfg = TRMConfig.preset("cpu-sudoku-4x4", halt_max_steps=4)
    model = TRM(cfg)
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    batch = {
        "inputs": inputs,
        "labels": labels,
        "puzzle_identifiers": torch.zeros(8, dtype=torch.long),
    }
    carry = model.initial_carry(batch)
    start, solved_at = time.perf_counter(), None
    for step in range(1, 801):
        model.train()
        carry, outputs = model(carry, batch)
        loss = act_loss(outputs, carry).loss / len(inputs)
        optim.zero_grad()
        loss.backward()
        optim.step()
        if step % 25 == 0:
            model.eval()
            result = model.solve(inputs, halt=False)
            if (result.predictions == labels).all(dim=1).all():
                solved_at = step
                break
    elapsed = time.perf_counter() - start
    assert solved_at is not None, f"not solved after {step} steps ({elapsed:.1f}s)"
    # Given cells are copied and the blanks filled in with the solution.
    assert torch.equal(result.predictions[inputs != BLANK], labels[inputs != BLANK])
