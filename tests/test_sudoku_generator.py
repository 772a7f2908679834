"""Sudoku generators, shipped pools and dataset loading."""

from __future__ import annotations

import numpy as np
import pytest

from envs.sudoku import rules
from envs.sudoku.config import DEFAULT_GIVENS, SudokuConfig
from envs.sudoku.generator import DatasetGenerator, FixedGenerator, RandomSudokuGenerator
from envs.sudoku.io import write_sudoku_csv
from envs.sudoku.pool import SudokuPool, build_pool, generate_pool, shipped_pool
from envs.sudoku.solver import analyse


def make_pool(size, dataset, givens, difficulty, pool_size, pool_seed):
    """The env pool of these SudokuConfig fields (the pre-config call form of these tests)."""
    config = SudokuConfig(
        size=size,
        dataset=dataset,
        givens=givens,
        difficulty=difficulty,
        pool_size=pool_size,
        pool_seed=pool_seed,
    )
    return build_pool(config)


SIZES = sorted(DEFAULT_GIVENS)


def assert_valid_unique(puzzle: np.ndarray, solution: np.ndarray) -> None:
    assert rules.find_duplicates(puzzle) == []
    assert rules.is_solved(solution[None])[0]
    assert np.all((puzzle == 0) | (puzzle == solution))
    result = analyse(puzzle, limit=2)
    assert result.num_solutions == 1
    assert np.array_equal(result.solution, solution)


@pytest.mark.parametrize("size", SIZES)
def test_random_generator_valid_unique_and_seeded(size):
    gen = RandomSudokuGenerator(size)
    for seed in range(3):
        p = gen(np.random.default_rng(seed))
        assert_valid_unique(p.puzzle, p.solution)
        lo, hi = DEFAULT_GIVENS[size]
        assert lo <= p.num_givens <= hi
    a, b = gen(np.random.default_rng(7)), gen(np.random.default_rng(7))
    assert np.array_equal(a.puzzle, b.puzzle) and np.array_equal(a.solution, b.solution)


@pytest.mark.parametrize(("size", "givens"), [(4, 6), (6, (12, 14)), (9, 40)])
def test_givens_knob(size, givens):
    gen = RandomSudokuGenerator(size, givens=givens)
    lo, hi = (givens, givens) if isinstance(givens, int) else givens
    for seed in range(2):
        p = gen(np.random.default_rng(seed))
        assert lo <= p.num_givens <= hi
        assert_valid_unique(p.puzzle, p.solution)


def test_difficulty_knob_is_measured_by_the_solver():
    easy = RandomSudokuGenerator(9, givens=(24, 30), difficulty="easy")
    hard = RandomSudokuGenerator(9, givens=(22, 26), difficulty="hard")
    for seed in range(2):
        assert analyse(easy(np.random.default_rng(seed)).puzzle).guesses == 0
        assert analyse(hard(np.random.default_rng(seed)).puzzle).guesses > 0


def test_impossible_request_raises():
    with pytest.raises(RuntimeError, match="widen the givens range"):
        RandomSudokuGenerator(4, givens=1, max_tries=3)(np.random.default_rng(0))
    with pytest.raises(ValueError, match="difficulty"):
        RandomSudokuGenerator(9, difficulty="medium")
    with pytest.raises(ValueError, match="givens"):
        RandomSudokuGenerator(4, givens=(10, 5))


def test_generate_pool_prefixes_agree():
    gen = RandomSudokuGenerator(4)
    small, large = generate_pool(gen, 5, seed=3), generate_pool(gen, 8, seed=3)
    assert np.array_equal(small.puzzles, large.puzzles[:5])
    assert np.array_equal(small.guesses, large.guesses[:5])


@pytest.mark.parametrize("size", SIZES)
def test_shipped_pools_are_valid_and_unique(size):
    """Every shipped puzzle (about 1.5 s for all three pools)."""
    pool = shipped_pool(size)
    assert len(pool) >= 2000 and pool.puzzles.shape[1:] == (size, size)
    counts = np.count_nonzero(pool.puzzles.reshape(len(pool), -1), axis=1)
    lo, hi = DEFAULT_GIVENS[size]
    assert counts.min() >= lo and counts.max() <= hi
    assert rules.is_solved(pool.solutions).all()
    # Givens agree with a valid solution, so no given contradicts another.
    assert np.all((pool.puzzles == 0) | (pool.puzzles == pool.solutions))
    assert np.array_equal(pool.masks, rules.legal_mask(pool.puzzles))
    for i, (puzzle, solution) in enumerate(zip(pool.puzzles, pool.solutions, strict=True)):
        result = analyse(puzzle, limit=2)
        assert result.unique and np.array_equal(result.solution, solution), i
        assert (result.nodes, result.guesses) == (pool.nodes[i], pool.guesses[i]), i


def test_pool_generator_is_seeded_and_filters():
    pool = shipped_pool(9)
    a = pool(np.random.default_rng(5))
    b = pool(np.random.default_rng(5))
    assert np.array_equal(a.puzzle, b.puzzle)
    easy = pool.filter(givens=(30, 35), difficulty="easy")
    counts = np.count_nonzero(easy.puzzles.reshape(len(easy), -1), axis=1)
    assert len(easy) > 100 and counts.min() >= 30 and counts.max() <= 35
    assert (easy.guesses == 0).all()
    assert (pool.filter(difficulty="hard").guesses > 0).all()


def test_make_pool_subsets_and_caches():
    sub = make_pool(4, None, None, None, 100, 1)
    assert len(sub) == 100 and sub is make_pool(4, None, None, None, 100, 1)
    other = make_pool(4, None, None, None, 100, 2)
    assert not np.array_equal(sub.puzzles, other.puzzles)


def test_make_pool_small_or_impossible_requests():
    with pytest.warns(UserWarning, match="only 34 shipped 6x6 puzzles match"):
        assert len(make_pool(6, None, None, "hard", None, 0)) == 34
    with (
        pytest.warns(UserWarning, match="using 256 generated ones"),
        pytest.raises(RuntimeError, match="4x4 puzzles never need guessing"),
    ):
        make_pool(4, None, None, "hard", None, 0)
    with pytest.raises(ValueError, match="no puzzle of this pool has givens=40"):
        make_pool(9, "sudoku-extreme", 40, None, None, 0)


def test_make_pool_generates_when_shipped_pool_cannot_serve():
    # The shipped 4x4 pool holds about 200 puzzles with 4 givens.
    with pytest.warns(UserWarning, match="using 250 generated ones"):
        pool = make_pool(4, None, 4, None, 250, 0)
    counts = np.count_nonzero(pool.puzzles.reshape(len(pool), -1), axis=1)
    assert len(pool) == 250 and (counts == 4).all()


def test_dataset_generator_reads_sudoku_extreme():
    pool = DatasetGenerator("sudoku-extreme")
    assert len(pool) == 1000 and pool.size == 9
    counts = np.count_nonzero(pool.puzzles.reshape(1000, -1), axis=1)
    assert counts.min() >= 17 and counts.max() <= 35
    assert rules.is_solved(pool.solutions).all()


def test_dataset_round_trip_and_errors(tmp_path):
    pool = shipped_pool(4).select(np.arange(10))
    path = tmp_path / "mini.csv"
    write_sudoku_csv(pool, path, source="test")
    loaded = DatasetGenerator(path, size=4)
    assert np.array_equal(loaded.puzzles, pool.puzzles)

    with pytest.raises(ValueError, match=r"cannot read Sudoku dataset .*missing\.csv"):
        DatasetGenerator(tmp_path / "missing.csv", size=4)
    bad = tmp_path / "bad_header.csv"
    bad.write_text("quiz,answer\n1,2\n")
    with pytest.raises(
        ValueError, match=r"bad_header.csv.*expected columns 'puzzle' and 'solution'"
    ):
        DatasetGenerator(bad, size=4)
    rows = path.read_text().splitlines()
    puzzle, solution, source = rows[1].split(",")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("\n".join([rows[0], f"{puzzle},{solution[::-1]},{source}"]) + "\n")
    with pytest.raises(ValueError, match=r"wrong.csv', line 2: solution"):
        DatasetGenerator(wrong, size=4)
    short = tmp_path / "short.csv"
    short.write_text(f"{rows[0]}\n123,{solution},x\n")
    with pytest.raises(ValueError, match=r"short.csv', line 2: puzzle string has 3 characters"):
        DatasetGenerator(short, size=4)


def test_fixed_generator():
    pool = shipped_pool(6)
    gen = FixedGenerator(pool.puzzles[0], size=6)
    p = gen(np.random.default_rng(0))
    assert np.array_equal(p.solution, pool.solutions[0])
    assert isinstance(pool, SudokuPool)


def test_generated_pools_are_kept_between_processes(tmp_path, monkeypatch):
    """A generated pool is written once to TRM_RL_CACHE and read back identical; a damaged file
    is generated again; 'off' keeps nothing."""
    from envs.sudoku import pool as pool_module

    monkeypatch.setenv(pool_module.CACHE_ENV, str(tmp_path))
    generator = pool_module.RandomSudokuGenerator(4, 4)
    first = pool_module.cached_pool(generator, 20, 3)
    files = list(tmp_path.glob("sudoku-pool-*.npz"))
    assert len(files) == 1
    calls = []
    monkeypatch.setattr(pool_module, "generate_pool", lambda *a: calls.append(a))
    again = pool_module.cached_pool(generator, 20, 3)  # read, not generated
    assert calls == [] and np.array_equal(again.puzzles, first.puzzles)
    assert np.array_equal(again.solutions, first.solutions)
    monkeypatch.undo()
    monkeypatch.setenv(pool_module.CACHE_ENV, str(tmp_path))
    files[0].write_bytes(b"not an npz")
    repaired = pool_module.cached_pool(generator, 20, 3)
    assert np.array_equal(repaired.puzzles, first.puzzles)
    other = pool_module.cached_pool(generator, 20, 4)  # another seed: another file
    assert len(list(tmp_path.glob("*.npz"))) == 2 and not np.array_equal(
        other.puzzles, first.puzzles
    )
    monkeypatch.setenv(pool_module.CACHE_ENV, "off")
    assert pool_module.cache_dir() is None
    assert np.array_equal(pool_module.cached_pool(generator, 20, 3).puzzles, first.puzzles)
