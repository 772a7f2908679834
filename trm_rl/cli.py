"""``trm-rl <command>``: a thin command-line front over the library.

Commands:
  demo              play episodes of a registered env with an oracle or a random policy
  envs              list the registered environment ids
  train-supervised  train a TRM (or a matched baseline) by deep supervision
  evaluate          score a supervised run on held-out puzzles (JSON)
  solve             answer a file of puzzles with a supervised run (JSONL)
  train-ppo         train a TRM policy (or a matched baseline) with PPO in an env
  evaluate-ppo      score a PPO run on held-out puzzles beside random and oracle (JSON)
  sweep             run a study (k_cycles, think_longer, ablations): runs, CSVs, plots, report
  plot              draw the plots and report.md of a study directory from its CSVs
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import tyro

from trm_rl.policies.config import PPOConfig
from trm_rl.supervised.config import TrainConfig


@dataclass
class Demo:
    """Play a few episodes of a registered environment and print boards and statistics."""

    env_id: str = "trm_rl/Maze-9x9-v0"
    """One of this project's ids (see `trm-rl envs`), e.g. trm_rl/MazeHard-v0 or
    trm_rl/Sudoku-9x9-v0."""
    episodes: int = 3
    """Number of episodes to play (>= 1)."""
    policy: Literal["oracle", "random"] = "oracle"
    """'oracle' follows the BFS shortest path (Maze) or the solution (Sudoku); 'random' draws
    uniformly among legal actions."""
    seed: int = 0
    """Seed (>= 0) of the first reset and of the random policy."""
    render: Literal["ansi", "none"] = "ansi"
    """Print the first and last board of every episode ('none' prints statistics only)."""


@dataclass
class Envs:
    """List the registered environment ids with the constructor arguments they fix."""


@dataclass
class Evaluate:
    """Score a supervised run on held-out puzzles and print JSON: token and exact accuracy with
    all supervision steps and with early halting, mean steps used, halting accuracy, and for
    mazes 'valid' (some shortest path) beside 'exact' (the label)."""

    run: Path
    """The run directory (the --out of train-supervised)."""
    data: str | None = None
    """Data name or CSV to score on (default: the run's data and split seed), e.g. maze-15x15
    for a model trained on maze-11x11."""
    split: Literal["test", "val"] = "test"
    """Held-out split to score."""
    max_steps: int | None = None
    """Supervision steps (default: the trained number, scaled up with the number of cells on
    larger grids)."""
    env_episodes: int = 100
    """Also play this many of the puzzles in the Gymnasium env and report its success (0: skip)."""
    batch_size: int = 256
    """Puzzles per forward pass."""
    limit: int | None = None
    """Score only the first N puzzles of the split (large grids are slow on a CPU)."""
    device: str = "auto"
    """'auto', 'cpu', 'cuda', ..."""


@dataclass
class Solve:
    """Answer every puzzle of a file with a supervised run: one JSON line per puzzle, in input
    order: {"puzzle", "solution", "confidence", "steps"}."""

    run: Path
    """The run directory (the --out of train-supervised)."""
    input: Path
    """A CSV with a 'puzzle' or 'question' column (the formats of envs/data/), or a text file
    with one puzzle per line (Sudoku digits with 0 or . blanks; Maze characters '# SG')."""
    output: Path
    """The JSONL file to write."""
    max_steps: int | None = None
    """Supervision steps at most (default: the trained number, scaled up on larger grids)."""
    trajectory: Path | None = None
    """Also draw the first puzzle's answer being refined step by step, with the halting
    probability, as a GIF."""
    device: str = "auto"
    """'auto', 'cpu', 'cuda', ..."""


@dataclass
class EvaluatePPO:
    """Score a PPO run on held-out puzzles and print JSON: success, success within 2x the
    optimal (BFS) length and mean length / optimal, with deterministic and with sampled actions,
    beside a uniform random legal policy and the oracle on the same puzzles."""

    run: Path
    """The run directory (the --out of train-ppo)."""
    env: str | None = None
    """Env id to play (default: the run's, on its test split), e.g. trm_rl/Maze-15x15-v0 for a
    policy trained on 9x9 mazes (size-agnostic policies: TRM with mixer='conv', conv)."""
    puzzles: Path | None = None
    """A CSV of puzzles to play instead (Maze-Hard or Sudoku-Extreme format)."""
    episodes: int = 1000
    """Puzzles to play (each exactly once)."""
    seed: int = 0
    """Seed of the sampled actions and of the random policy."""
    device: str = "auto"
    """'auto', 'cpu', 'cuda', ..."""
    max_steps: int | None = None
    """Cap every episode at this many steps (default: the env's, 4 x cells for mazes). Success
    within 2x optimal is unchanged while the cap is at least twice the optimal length; large
    mazes with slow policies evaluate much faster (a failing policy walks to the cap)."""
    stochastic: bool = True
    """Also play the policy with sampled actions (--no-stochastic halves the policy's time)."""


@dataclass
class SweepOptions:
    """Options of a sweep (the study scripts experiments/<study>.py take these)."""

    preset: str
    """cpu-quick (k_cycles only: about 7 minutes on 2 cores), cpu-full (3 seeds, 1.5 to 4 hours
    on 2 cores; --dry-run prints the estimate) or gpu-paper (the paper's models, device auto,
    bf16); see experiments/studies.py."""
    out: Path | None = None
    """Study directory (default: results/<study>): a folder per run, runs.csv, curves.csv,
    plots/, report.md. Running again resumes: finished runs are skipped."""
    dry_run: bool = False
    """Print the runs, their budgets, the total CPU-minutes and the estimated wall time, check
    that every config builds, and run nothing."""
    workers: int = 2
    """Runs at once on this machine, one thread each (1: in this process)."""
    ray_address: str | None = None
    """Run on Ray instead: 'local' (a Ray instance on this machine), 'auto' or HOST:PORT (a
    cluster whose nodes have this package; needs pip install -e '.[ray]')."""


@dataclass
class SweepArgs(SweepOptions):
    """Run a study (a base config x a grid x seeds) on local workers or a Ray cluster; write
    runs.csv, curves.csv, plots/ and report.md into its directory."""

    study: tyro.conf.Positional[Annotated[str, tyro.conf.arg(metavar="STUDY")]] = field(
        kw_only=True
    )
    """k_cycles, think_longer or ablations (experiments/studies.py)."""


@dataclass
class Plot:
    """Draw the plots and report.md of a study directory from its runs.csv and curves.csv."""

    study_dir: tyro.conf.Positional[Annotated[Path, tyro.conf.arg(metavar="STUDY_DIR")]]
    """The study directory (the --out of trm-rl sweep); plots/ and report.md go there."""
    metric: str = "val/score"
    """The curves.csv metric drawn in the learning-curve plots."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``trm-rl`` console script."""
    try:
        cmd = _parse(argv)
    except ValueError as err:  # a config that validated false: the message, no traceback
        raise SystemExit(f"trm-rl: {err}") from None
    if isinstance(cmd, TrainConfig | Evaluate | Solve):
        _supervised(cmd)
    elif isinstance(cmd, PPOConfig | EvaluatePPO):
        _ppo(cmd)
    elif isinstance(cmd, Demo):
        _demo(cmd)
    elif isinstance(cmd, SweepArgs | Plot):
        _experiments(cmd)
    else:
        import envs

        for env_id, kwargs in envs.ENV_IDS.items():
            print(f"{env_id:28s} {kwargs}")


Command = Demo | Envs | TrainConfig | Evaluate | Solve | PPOConfig | EvaluatePPO | SweepArgs | Plot


def _parse(argv: list[str] | None) -> Command:
    return tyro.cli(
        Annotated[Demo, tyro.conf.subcommand("demo")]
        | Annotated[Envs, tyro.conf.subcommand("envs")]
        | Annotated[TrainConfig, tyro.conf.subcommand("train-supervised")]
        | Annotated[Evaluate, tyro.conf.subcommand("evaluate")]
        | Annotated[Solve, tyro.conf.subcommand("solve")]
        | Annotated[PPOConfig, tyro.conf.subcommand("train-ppo")]
        | Annotated[EvaluatePPO, tyro.conf.subcommand("evaluate-ppo")]
        | Annotated[SweepArgs, tyro.conf.subcommand("sweep")]
        | Annotated[Plot, tyro.conf.subcommand("plot")],
        args=argv,
        description=__doc__,
    )


def _demo(cmd: Demo) -> None:
    from trm_rl.demo import check_demo_args, run_demo

    args = (cmd.env_id, cmd.episodes, cmd.policy, cmd.seed, cmd.render)
    try:
        check_demo_args(*args)
    except ValueError as err:  # a usage error: the message, no traceback
        raise SystemExit(f"trm-rl demo: {err}") from None
    run_demo(*args)


def _supervised(cmd: TrainConfig | Evaluate | Solve) -> None:
    """Run a supervised command; a usage error prints its message (no traceback)."""
    import json

    name = {TrainConfig: "train-supervised", Evaluate: "evaluate", Solve: "solve"}[type(cmd)]
    try:
        if isinstance(cmd, TrainConfig):
            from trm_rl.supervised.trainer import train

            run_dir = train(cmd)
            print(f"run written to {run_dir} (evaluate with: trm-rl evaluate --run {run_dir})")
        elif isinstance(cmd, Evaluate):
            from trm_rl.supervised.commands import evaluate_run

            result = evaluate_run(
                cmd.run, cmd.data, cmd.split, cmd.max_steps, cmd.device, cmd.batch_size,
                cmd.env_episodes, cmd.limit,
            )  # fmt: skip
            print(json.dumps(result, indent=2))
        else:
            from trm_rl.supervised.commands import solve_file

            count = solve_file(
                cmd.run, cmd.input, cmd.output, cmd.max_steps, cmd.device, cmd.trajectory
            )
            print(f"wrote {count} answers to {cmd.output}")
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f"trm-rl {name}: {err}") from None


def _ppo(cmd: PPOConfig | EvaluatePPO) -> None:
    """Run a PPO command; a usage error prints its message (no traceback)."""
    import json

    name = "train-ppo" if isinstance(cmd, PPOConfig) else "evaluate-ppo"
    try:
        if isinstance(cmd, PPOConfig):
            from trm_rl.policies.train import train_ppo

            run_dir = train_ppo(cmd)
            print(f"run written to {run_dir} (evaluate with: trm-rl evaluate-ppo --run {run_dir})")
        else:
            from trm_rl.policies.train import evaluate_ppo

            result = evaluate_ppo(
                cmd.run,
                cmd.env,
                cmd.puzzles,
                cmd.episodes,
                cmd.device,
                cmd.seed,
                max_steps=cmd.max_steps,
                stochastic=cmd.stochastic,
            )
            print(json.dumps(result, indent=2))
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f"trm-rl {name}: {err}") from None


def _experiments(cmd: SweepArgs | Plot) -> None:
    """Run a sweep or draw a study's plots; a usage error prints its message (no traceback)."""
    name = "sweep" if isinstance(cmd, SweepArgs) else "plot"
    try:
        if isinstance(cmd, SweepArgs):
            from experiments.sweep import main as sweep_main

            sweep_main(cmd)
        else:
            from experiments.plot import plot_study, summary_tables

            written = plot_study(cmd.study_dir, cmd.metric)
            print(summary_tables(cmd.study_dir))
            for path in written["plots"] + written["report"]:
                print(path)
    except (ValueError, ImportError, FileNotFoundError) as err:
        raise SystemExit(f"trm-rl {name}: {err}") from None


if __name__ == "__main__":
    main()
