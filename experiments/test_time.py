"""``trm-rl test-time``: how a trained supervised model's test score grows with test-time compute,
along two axes:

- ``samples``: N solves of every puzzle, sample 0 from the model's own initial latents and the
  others from latents with Gaussian noise added, one answer chosen by majority ``vote`` or by
  the halting head's ``confidence`` (:mod:`trm_rl.supervised.sampling`); scored after the
  trained number of supervision steps (scaled up on larger grids, as ``trm-rl evaluate`` does);
- ``steps``: the same solves scored after 1, 2, ... supervision steps without halting ("think
  longer"): the single sample, and each selection over the largest N.

Everything comes from one computation. A sample's noise depends only on the seed, its index
and the grid, not on how many samples are drawn, so the first n of N samples *are* an n-sample
solve; and a solve without halting gives the answer after every step, so its first s steps
*are* an s-step solve. Each sample is therefore run once, for the largest step count, and every
(selection, N, steps) cell is read off its prefixes. Sample 0 is the deterministic answer:
``samples=1`` is the ``exact_accuracy`` of ``trm-rl evaluate`` and the single-sample steps row
its ``exact_by_step``. The kept answers take ``samples x steps x puzzles x cells`` bytes (use
``--limit`` on large mazes).

Outputs, in ``--out`` (each written atomically):

- ``test_time.csv``: one tidy row per (axis, select, samples, steps): ``model, data, split,
  axis, select, samples, steps, noise, seed, score`` (exact accuracy), ``valid`` (mazes: the
  answer is some shortest path; empty for Sudoku), ``path_exact`` (mazes: the answer is the
  label path, the published Maze-Hard "exact"; for a model trained on the ``distance`` target,
  ``score`` and ``any_exact`` compare distance fields and ``valid``/``path_exact`` score the
  path each field decodes to), ``any_exact`` (some of the N samples is
  exactly right: the upper bound of any selection), ``puzzles, score_se`` (binomial, 1 s.e.),
  ``seconds`` (the N solves' wall clock, measured per sample at the largest step count and
  scaled by ``steps / largest``, since every step costs the same, plus the selection) and
  ``puzzles_per_s``;
- ``score_vs_samples.png``: exact accuracy against N (log2), one line per selection with
  +-1 binomial s.e. bars, the single sample and "some sample right" as grey references;
- ``score_vs_steps.png``: exact accuracy against the supervision steps, the single sample and
  each selection over the largest N, the trained step count marked;
- mazes also ``valid_vs_samples.png`` and ``valid_vs_steps.png``: the same for ``valid``.

    trm-rl test-time --model sudoku-4x4 --limit 200
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator, NullLocator

from experiments.collect import write_csv
from experiments.plot import OKABE_ITO, REFERENCE, _axes, _safe, _save, ylabel
from experiments.stats import binomial_se
from trm_rl.data.maze_targets import answers_as_paths, path_labels
from trm_rl.supervised.commands import (
    default_steps,
    heldout_puzzles,
    load_source,
    model_target,
)
from trm_rl.supervised.evaluate import maze_valid, predict
from trm_rl.supervised.sampling import (
    DEFAULT_NOISE,
    SamplingConfig,
    check_model,
    latent_positions,
    sample_start,
    select,
)

#: Where the results go when no ``--out`` is given:
#: ``DEFAULT_ROOT/<model>_<data>[_first<limit>]`` (a run named by its folder, a CSV by its name).
DEFAULT_ROOT = Path("results/cpu_flagship/test_time")
CSV_NAME = "test_time.csv"
FIELDS = [
    "model", "data", "split", "axis", "select", "samples", "steps", "noise", "seed", "score",
    "valid", "any_exact", "puzzles", "score_se", "seconds", "puzzles_per_s", "path_exact",
]  # fmt: skip
SINGLE = "single"  # the steps axis's sample 0 alone


@dataclass
class TestTimeArgs:
    """Test-time scaling of a supervised run or a shipped model: exact accuracy against N
    sampled solves from perturbed initial latents (answer chosen by vote or by confidence) and
    against supervision steps at test time. Writes test_time.csv, score_vs_samples.png and
    score_vs_steps.png (mazes: also valid_vs_*.png) to --out and prints the table (see
    experiments/test_time.py)."""

    __test__ = False  # not a pytest test class despite its name

    run: Path | None = None
    """The supervised run directory (the --out of train-supervised); or give --model."""
    model: str | None = None
    """A pretrained model shipped with the package (see `trm-rl models`), e.g. sudoku-4x4,
    instead of --run."""
    data: str | None = None
    """Data name or CSV to score on (default: the model's own data and split seed)."""
    split: Literal["test", "val", "all"] = "test"
    """Held-out split to score (named on the plots' y axes); 'all': every puzzle of a --data
    file the model never trained on."""
    limit: int | None = None
    """Score only the first N puzzles of the split (default: all of it)."""
    samples: tuple[int, ...] = (1, 2, 4, 8, 16)
    """Sample counts N to score (each >= 1; N=1, the deterministic answer, is always scored as
    the reference); all are read off one solve of the largest N."""
    select: tuple[Literal["vote", "confidence"], ...] = ("vote", "confidence")
    """Selection rules: 'vote' (the answer most samples gave; ties: the most confident) and/or
    'confidence' (the sample with the highest final halting probability)."""
    noise: float = DEFAULT_NOISE
    """Std of the Gaussian noise added to every entry of the initial latents H_init/L_init
    (which have std 1); > 0."""
    seed: int = 0
    """Seed (>= 0) of the noise draws."""
    max_steps: tuple[int, ...] | None = None
    """Supervision step counts to score on the steps axis (each >= 1; default: 1 to twice the
    trained count, scaled up on larger grids). The samples axis uses the trained count."""
    out: Path | None = None
    """Output folder (default: results/cpu_flagship/test_time/<model>_<data>[_first<limit>])."""
    batch_size: int = 256
    """Puzzles per forward pass."""
    threads: int | None = None
    """torch CPU threads while solving (default: torch's choice). Small models run fastest on
    one thread, and a shared machine's load changes the seconds column."""
    device: str = "auto"
    """'auto', 'cpu', 'cuda', ..."""


@dataclass(frozen=True)
class Solves:
    """The kept answers of every sample after every scored step count."""

    answers: np.ndarray  # (N, K, B, L) small ints: sample, kept step, puzzle, cell
    confidence: np.ndarray  # (N, K, B) sigmoid(q_halt) after that step
    steps: tuple[int, ...]  # (K,) the kept step counts, increasing
    seconds: np.ndarray  # (N,) wall clock of each sample's solve of steps[-1] steps


def check_args(args: TestTimeArgs) -> tuple[list[int], list[str]]:
    """The sorted distinct sample counts (1 always among them: the reference) and the
    distinct selections of ``args``.

    :raises ValueError: naming the option and the fix.
    """
    if not args.samples or not args.select:
        raise ValueError("--samples and --select need at least one value each")
    for n in args.samples:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"--samples must be >= 1 (solves per puzzle), got {n!r}")
    for s in args.max_steps or ():
        if isinstance(s, bool) or not isinstance(s, int) or s < 1:
            raise ValueError(f"--max-steps must be >= 1 (supervision steps), got {s!r}")
    if args.max_steps is not None and not args.max_steps:
        raise ValueError("--max-steps needs at least one step count (or leave it out)")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be >= 1 puzzle, got {args.limit}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} is a file; give a folder")
    SamplingConfig(samples=max(args.samples), seed=args.seed, noise=args.noise)  # noise, seed
    return sorted(set(args.samples) | {1}), list(dict.fromkeys(args.select))


def solve_samples(
    net: torch.nn.Module,
    inputs: np.ndarray,
    grid_shape: tuple[int, int],
    steps: list[int],
    config: SamplingConfig,
    batch_size: int = 256,
) -> Solves:
    """Solve every puzzle ``config.samples`` times for ``max(steps)`` steps without halting
    (sample ``k`` from its own perturbed start, see :mod:`trm_rl.supervised.sampling`) and keep
    the answers after each of ``steps``."""
    check_model(net, config.samples)
    kept = sorted(set(steps))
    rows = [s - 1 for s in kept]
    positions = latent_positions(net, grid_shape[0] * grid_shape[1])
    dtype = np.min_scalar_type(max(int(net.config.vocab_size) - 1, 0))
    device = next(net.parameters()).device
    predict(net, inputs[:1], grid_shape, 1, device)  # warm-up: sample 0 is timed as the others
    answers, confidence, seconds = [], [], []
    for k in range(config.samples):
        start = time.perf_counter()
        with sample_start(net, positions, k, config):
            traj = predict(net, inputs, grid_shape, kept[-1], device, batch_size)
        seconds.append(time.perf_counter() - start)
        answers.append(traj["predictions"][rows].astype(dtype))
        confidence.append(traj["halt_probs"][rows])
    return Solves(np.stack(answers), np.stack(confidence), tuple(kept), np.array(seconds))


def score_cell(
    solves: Solves,
    inputs: np.ndarray,
    labels: np.ndarray,
    kind: str,
    grid_shape: tuple[int, int],
    how: str,
    samples: int,
    steps: int,
    target: str = "path",
    label_paths: np.ndarray | None = None,
) -> dict[str, Any]:
    """The scores of the first ``samples`` samples after ``steps`` steps, one answer per puzzle
    chosen by ``how`` ("vote", "confidence" or "single": sample 0). ``target``: the maze label
    format the model writes (``distance`` fields are decoded into paths for ``valid`` and
    ``path_exact``); ``label_paths``: the mazes' label paths (:func:`path_labels`), computed
    here when not given (pass them to score many cells of the same puzzles)."""
    start = time.perf_counter()
    answers = solves.answers[:samples, solves.steps.index(steps)]  # (n, B, L)
    confidence = solves.confidence[:samples, solves.steps.index(steps)]  # (n, B)
    n = answers.shape[1]
    chosen = np.zeros(n, dtype=np.int64) if how == SINGLE else select(answers, confidence, how)[0]
    picked = answers[chosen, np.arange(n)]
    picking = time.perf_counter() - start
    score = float((picked == labels).all(1).mean())
    seconds = float(solves.seconds[:samples].sum()) * steps / solves.steps[-1] + picking
    valid = path_exact = ""
    if kind == "maze":
        paths = answers_as_paths(target, inputs, picked, grid_shape)
        valid = float(np.mean(maze_valid(inputs, paths, grid_shape)))
        if label_paths is None:
            label_paths = path_labels(inputs, grid_shape)
        path_exact = float((paths == label_paths).all(1).mean())
    return {
        "select": how, "samples": samples, "steps": steps, "score": score, "valid": valid,
        "any_exact": float((answers == labels[None]).all(2).any(0).mean()), "puzzles": n,
        "score_se": binomial_se(score, n), "seconds": seconds, "puzzles_per_s": n / seconds,
        "path_exact": path_exact,
    }  # fmt: skip


def run_test_time(args: TestTimeArgs) -> dict[str, Any]:
    """Score every cell of both axes, write the CSV and the plots (see the module docstring).

    :return: ``{"rows": [CSV rows], "csv": Path, "plots": [Paths], "out": Path}``.
    :raises ValueError: for bad options, an unknown model or run, or data the model cannot take,
        before anything is written.
    """
    counts, selections = check_args(args)
    net, kind, fields = load_source(args.run, args.model, args.device)
    check_model(net, counts[-1])
    target = model_target(kind, fields)
    name = args.model or Path(str(args.run)).resolve().name
    data, inputs, labels = heldout_puzzles(
        net, kind, fields, str(args.run or f"model {args.model}"), args.data, args.split, args.limit
    )
    if len(inputs) == 0:
        raise ValueError(f"the {args.split} split of {data.name!r} holds no puzzle")
    data_name = Path(data.name).stem if str(data.name).endswith(".csv") else str(data.name)
    trained = default_steps(net, data.seq_len)
    step_axis = sorted(set(args.max_steps or range(1, 2 * trained + 1)))
    out = args.out
    if out is None:
        limit = f"_first{args.limit}" if args.limit is not None else ""
        out = DEFAULT_ROOT / _safe(f"{name}_{data_name}{limit}")
    config = SamplingConfig(samples=counts[-1], seed=args.seed, noise=args.noise)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads or threads)
    try:
        solves = solve_samples(
            net, inputs, data.grid_shape, [*step_axis, trained], config, args.batch_size
        )
    finally:
        torch.set_num_threads(threads)
    cells = [("samples", how, n, trained) for how in selections for n in counts]
    cells += [("steps", SINGLE, 1, s) for s in step_axis]
    if counts[-1] > 1:
        cells += [("steps", how, counts[-1], s) for how in selections for s in step_axis]
    head = {"model": name, "data": data_name, "split": args.split}
    paths = path_labels(inputs, data.grid_shape) if kind == "maze" else None  # one BFS per maze
    rows = [
        head
        | {"axis": axis, "noise": args.noise, "seed": args.seed}
        | score_cell(solves, inputs, labels, kind, data.grid_shape, how, n, s, target, paths)
        for axis, how, n, s in cells
    ]
    csv_path = write_csv(out / CSV_NAME, rows, FIELDS)
    title = f"{name} on {data_name} ({len(inputs)} puzzles)"
    plots = [
        plot_samples(rows, out / "score_vs_samples.png", title, args.split),
        plot_steps(rows, out / "score_vs_steps.png", title, args.split, trained),
    ]
    if kind == "maze":
        plots += [
            plot_samples(rows, out / "valid_vs_samples.png", title, args.split, "valid"),
            plot_steps(rows, out / "valid_vs_steps.png", title, args.split, trained, "valid"),
        ]
    return {"rows": rows, "csv": csv_path, "plots": plots, "out": out}


# -------------------------------------------------------------------------------------- plots
#: How each selection rule is drawn in both plots: colour (Okabe-Ito), line style, marker.
STYLES = {
    SINGLE: (OKABE_ITO[7], "-", "s"),
    "vote": (OKABE_ITO[4], "-", "o"),
    "confidence": (OKABE_ITO[5], "--", "^"),
}
#: Horizontal offset between the selections' points (a fraction of a log2 step or of a step),
#: so that equal scores do not hide each other.
DODGE = 0.08
#: The CSV columns drawn, with their y labels: ``valid`` only for mazes.
METRICS = {"score": "exact accuracy", "valid": "valid shortest paths"}


def _lines(ax: Axes, rows: list[dict[str, Any]], axis: str, log2: bool, metric: str) -> None:
    """One line per selection of ``axis`` with +-1 binomial s.e. bars, points dodged."""
    rules = list(dict.fromkeys(r["select"] for r in rows if r["axis"] == axis))
    for i, how in enumerate(rules):
        sub = [r for r in rows if r["axis"] == axis and r["select"] == how]
        shift = DODGE * (i - (len(rules) - 1) / 2)
        x = np.array([r[axis] for r in sub], dtype=float)
        x = x * 2**shift if log2 else x + shift
        if how == SINGLE:
            label = "single sample"
        else:
            label = how if axis == "samples" else f"{how}, N={sub[0]['samples']}"
        color, dash, marker = STYLES[how]
        y = [r[metric] for r in sub]
        se = [binomial_se(v, r["puzzles"]) for v, r in zip(y, sub, strict=True)]
        style = {"color": color, "ls": dash, "marker": marker, "ms": 4, "capsize": 2}
        ax.errorbar(x, y, yerr=se, label=label, **style)


def _note(rows: list[dict[str, Any]]) -> str:
    return f"bars: ±1 binomial s.e.\n({rows[0]['puzzles']} puzzles);\npoints dodged sideways"


def plot_samples(
    rows: list[dict[str, Any]], path: Path, title: str, split: str, metric: str = "score"
) -> Path:
    """``metric`` (exact accuracy or maze validity) against N (log2 axis), one line per
    selection with +-1 binomial s.e., the single sample and, for exact accuracy, "some sample
    right" (the bound of any selection) as grey references."""
    sub = [r for r in rows if r["axis"] == "samples"]
    fig, ax = _axes(
        f"{title}\nsampling: noise {sub[0]['noise']}, {sub[0]['steps']} steps",
        "samples per puzzle N (log2 scale)",
        ylabel(METRICS[metric], split),
    )
    _lines(ax, rows, "samples", log2=True, metric=metric)
    single = next(r[metric] for r in sub if r["samples"] == 1)
    ax.axhline(single, color=REFERENCE, ls="--", lw=1.2, label="single sample (N=1)")
    bound = {r["samples"]: r["any_exact"] for r in sub}
    if metric == "score":
        ax.plot(list(bound), list(bound.values()), color=REFERENCE, ls=":", lw=1.2,
                label="some sample right\n(upper bound)")  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(bound), [str(n) for n in bound])
    ax.xaxis.set_minor_locator(NullLocator())
    return _save(fig, path, _note(sub))


def plot_steps(
    rows: list[dict[str, Any]],
    path: Path,
    title: str,
    split: str,
    trained: int,
    metric: str = "score",
) -> Path:
    """``metric`` against the supervision steps at test time: the single sample and each
    selection over the largest N, with +-1 binomial s.e. bars; the trained count marked."""
    sub = [r for r in rows if r["axis"] == "steps"]
    fig, ax = _axes(f"{title}\nthinking longer", "supervision steps at test time",
                    ylabel(METRICS[metric], split))  # fmt: skip
    _lines(ax, rows, "steps", log2=False, metric=metric)
    ax.axvline(trained, color=REFERENCE, ls=":", lw=1.2, label=f"trained steps ({trained})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _save(fig, path, _note(sub))


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a small text table (scores in %)."""
    lines = [f"{'axis':8s} {'select':10s} {'N':>3s} {'steps':>5s} {'exact %':>8s} {'±se':>5s} "
             f"{'valid %':>8s} {'any %':>6s} {'seconds':>8s} {'puzzles/s':>9s}"]  # fmt: skip
    for r in rows:
        valid = f"{100 * r['valid']:8.1f}" if r["valid"] != "" else f"{'':8s}"
        lines.append(
            f"{r['axis']:8s} {r['select']:10s} {r['samples']:3d} {r['steps']:5d} "
            f"{100 * r['score']:8.1f} {100 * r['score_se']:5.1f} {valid} "
            f"{100 * r['any_exact']:6.1f} {r['seconds']:8.2f} {r['puzzles_per_s']:9.0f}"
        )
    return "\n".join(lines)


__all__ = [
    "CSV_NAME",
    "FIELDS",
    "Solves",
    "TestTimeArgs",
    "check_args",
    "format_table",
    "plot_samples",
    "plot_steps",
    "run_test_time",
    "score_cell",
    "solve_samples",
]
