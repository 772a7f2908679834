"""``trm-rl <command>``: a thin command-line front over the library (the top floor: it may
import every package of the project; nothing imports it).

Commands:
  demo              play episodes of a registered env with an oracle or a random policy
  envs              list the registered environment ids
  train-supervised  train a TRM (or a matched baseline) by deep supervision
  evaluate          score a supervised run or a shipped model on held-out puzzles (JSON)
  solve             answer a file of puzzles with a supervised run or a shipped model (JSONL)
  models            list the pretrained models shipped with the package
  train-ppo         train a TRM policy (or a matched baseline) with PPO in an env
  evaluate-ppo      score a PPO run on held-out puzzles beside random and oracle (JSON)
  compare-ppo       McNemar's paired test of two evaluate-ppo reports on the same puzzles (JSON)
  sweep             run a study (k_cycles, think_longer, ablations): runs, CSVs, plots, report
  plot              draw the plots and report.md of a study directory from its CSVs
  report            write report.md (and a README's tables) of a study directory from its CSVs
  test-time         a model's score vs sampled solves and vs test-time steps (CSV, plots)
  reproduce         every number the READMEs quote, its command; run chosen ones, compare
  tune-ppo          choose a policy's PPO settings on validation, every setting at equal FLOPs
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, NoReturn

import tyro

from envs import ENV_IDS
from experiments.plot import plot_study, summary_tables
from experiments.report import ReportArgs, run_report
from experiments.reproduce import ReproduceArgs
from experiments.reproduce import run as run_reproduce
from experiments.sweep import SweepArgs
from experiments.sweep import main as sweep_main
from experiments.test_time import TestTimeArgs, format_table, run_test_time
from experiments.tune_ppo import TuneArgs
from experiments.tune_ppo import main as tune_main
from trm_rl.demo import check_demo_args, run_demo
from trm_rl.policies.config import PPOArgs, resolve_ppo
from trm_rl.policies.paired import compare_files
from trm_rl.policies.train import evaluate_ppo, train_ppo
from trm_rl.pretrained import models_table
from trm_rl.supervised.commands import evaluate_run, solve_file
from trm_rl.supervised.config import TrainArgs, resolve_train
from trm_rl.supervised.sampling import DEFAULT_NOISE
from trm_rl.supervised.trainer import train


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
    """Score a supervised run (or a shipped model) on held-out puzzles and print JSON: token and
    exact accuracy with all supervision steps and with early halting, mean steps used, halting
    accuracy, and for mazes 'valid' (some shortest path) beside 'exact' (the label). With
    --samples N also the accuracy of N solves from perturbed initial latents, the answer chosen
    by confidence and by vote."""

    run: Path | None = None
    """The run directory (the --out of train-supervised); or give --model."""
    model: str | None = None
    """A pretrained model shipped with the package (see `trm-rl models`) instead of --run."""
    data: str | None = None
    """Data name or CSV to score on (default: the run's data and split seed), e.g. maze-15x15
    for a model trained on maze-11x11."""
    split: Literal["test", "val", "all"] = "test"
    """Held-out split to score; 'all': every puzzle of a --data file or pool the model never
    trained on (e.g. all 1000 of sudoku-extreme), refused for its own training data."""
    max_steps: int | None = None
    """Supervision steps (default: the trained number, scaled up with the number of cells on
    larger grids)."""
    env_episodes: int = 100
    """Also play this many of the puzzles in the Gymnasium env and report its success (0: skip)."""
    batch_size: int = 256
    """Puzzles per forward pass."""
    limit: int | None = None
    """Score only the first N puzzles of the split (large grids are slow on a CPU)."""
    snapshot: int | None = None
    """Score the snapshot kept at this step (train-supervised --keep-every) instead of the last
    checkpoint."""
    samples: int = 1
    """Solves per puzzle (TRMs only): sample 0 from the model's initial latents, the others
    from latents with Gaussian noise added; reports the confidence and the vote selections
    beside the single sample (1: no sampling)."""
    seed: int = 0
    """Seed of the noise draws of --samples."""
    noise: float = DEFAULT_NOISE
    """Std of the noise added to every entry of the initial latents H_init/L_init (std 1)."""
    device: str = "auto"
    """'auto', 'cpu', 'cuda', ..."""


@dataclass
class Solve:
    """Answer every puzzle of a file with a supervised run or a shipped model: one JSON line per
    puzzle, in input order: {"puzzle", "solution", "confidence", "steps"} (with --samples N > 1
    also "samples" and "agreement", the fraction of samples that gave the answer)."""

    input: Path
    """A CSV with a 'puzzle' or 'question' column (the formats of envs/data/), or a text file
    with one puzzle per line (Sudoku digits with 0 or . blanks; Maze characters '# SG')."""
    output: Path
    """The JSONL file to write."""
    run: Path | None = None
    """The run directory (the --out of train-supervised); or give --model."""
    model: str | None = None
    """A pretrained model shipped with the package (see `trm-rl models`), e.g. sudoku-4x4."""
    max_steps: int | None = None
    """Supervision steps at most (default: the trained number, scaled up on larger grids)."""
    samples: int = 1
    """Solves per puzzle (TRMs only): sample 0 from the model's initial latents, the others
    from latents with Gaussian noise added (1: the deterministic answer)."""
    select: Literal["vote", "confidence"] = "vote"
    """How the answer is chosen among the samples: the answer most samples gave (ties: the most
    confident), or the highest final halting probability (often confidently wrong on perturbed
    starts: see trm_rl/supervised/sampling.py)."""
    seed: int = 0
    """Seed of the noise draws of --samples."""
    noise: float = DEFAULT_NOISE
    """Std of the noise added to every entry of the initial latents H_init/L_init (std 1)."""
    trajectory: Path | None = None
    """Also draw the first puzzle's answer being refined step by step, with the halting
    probability, as a GIF."""
    batch_size: int | None = None
    """Puzzles solved together (memory grows with batch x cells: about 0.5 GB for 32 31x31
    mazes with the shipped maze model). Default: as many as make 32 31x31 grids, at most 256
    (32 on 31x31, 69 on 21x21, 254 on 11x11)."""
    stop_unchanged: int | None = None
    """Stop a puzzle once its answer has not changed for this many supervision steps (0: never:
    every step up to the halting head or the step limit). Default: 5 for a TRM (no answer of
    the shipped models moved again after 5 unchanged steps; see trm_rl/supervised/commands.py),
    0 for other models."""
    threads: int | None = None
    """torch threads while solving (default: torch's, one per core); on a machine busy with
    other jobs --threads 1 can be several times faster."""
    device: str = "auto"
    """'auto', 'cpu', 'cuda', ..."""


@dataclass
class Models:
    """List the pretrained models shipped with the package (load one with
    trm_rl.load_pretrained(name) or use it with trm-rl solve --model NAME)."""


@dataclass
class EvaluatePPO:
    """Score a PPO run on held-out puzzles and print JSON: success, success within 2x the
    optimal (BFS) length and mean length / optimal, with deterministic and with sampled actions,
    beside a uniform random legal policy and the oracle on the same puzzles. Each result keeps
    its per-puzzle outcomes (outcomes_2x: 1 solved within 2x optimal, 0 not, in puzzle order)
    and 'paired' tests every other policy variant against deterministic (McNemar: b, c, n,
    p_value, difference); trm-rl compare-ppo compares two saved reports."""

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
    halt_thresholds: tuple[float, ...] = ()
    """trm-carry with ACT thinking time: also play greedily with each halting threshold, e.g.
    0.5 0.7 0.9 0.97 (stop thinking once sigmoid(q_halt) exceeds it; higher thinks longer):
    success and length ratio against mean rounds per step, the thinking-time curve."""
    confidence_thresholds: tuple[float, ...] = ()
    """trm-carry with ACT thinking time: also play greedily halting by the policy's own
    confidence, e.g. 0.6 0.8 0.9 0.95 0.99 (stop thinking once the most likely legal action
    has at least this probability; the halting head is not asked)."""
    fixed_rounds: tuple[int, ...] = ()
    """trm-carry with ACT thinking time: also play greedily thinking exactly this many rounds
    at every step, e.g. 1 2 4 (at most the run's --think-rounds)."""
    max_length_ratio: float | None = None
    """Cut every episode as a failure after floor(ratio x optimal) steps (>= 2 keeps success
    within 2x optimal exact, and a failing policy stops early; default: the env's step limit)."""
    checkpoint: Literal["last", "best", "init"] = "last"
    """The agent to play: 'last' (agent.zip, the end of training), 'best' (agent_best.zip,
    kept at the validation with the best success within 2x optimal: chosen on validation) or
    'init' (agent_init.zip, the step-0 policy, e.g. the --init-from model before any PPO
    update; compare-ppo of 'init' and 'best' reports is the paired fine-tuning test)."""
    threads: int | None = 1
    """torch threads while playing (0 or none: torch's default, one per core). The policy acts
    on at most 64 envs at a time: one thread is fastest on a CPU, and on a machine busy with
    other jobs two threads made 9x9 maze play several times slower."""


@dataclass
class ComparePPO:
    """Compare two evaluate-ppo reports of the same puzzles puzzle by puzzle (McNemar's paired
    test) and print JSON: the success within 2x optimal of each, b (puzzles solved only by A's
    variant), c (only by B's), n (puzzles), the two-sided p-value (exact binomial below 25
    discordant puzzles, else chi-square) and the difference (B minus A). E.g. a PPO fine-tuned
    policy against its step-0 policy, or one report against itself with two variants. Both must
    be written by an evaluate-ppo that records per-puzzle outcomes, on the same puzzles."""

    report_a: tyro.conf.Positional[Annotated[Path, tyro.conf.arg(metavar="A.json")]]
    """The reference evaluate-ppo JSON (the saved output of trm-rl evaluate-ppo)."""
    report_b: tyro.conf.Positional[Annotated[Path, tyro.conf.arg(metavar="B.json")]]
    """The evaluate-ppo JSON compared with it, played on the same puzzles (may be A.json)."""
    variant_a: str = "deterministic"
    """The variant of A.json: deterministic, stochastic, deterministic_full_thinking,
    deterministic_halt_<t>, deterministic_confidence_<t>, deterministic_rounds_<k>, random or
    oracle."""
    variant_b: str = "deterministic"
    """The variant of B.json (the same choices)."""


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
        cmd = _parse(edge_argv(sys.argv[1:] if argv is None else list(argv)))
    except ValueError as err:  # a config that validated false: the message, no traceback
        fail("", err)
    if isinstance(cmd, TrainArgs | Evaluate | Solve):
        _supervised(cmd)
    elif isinstance(cmd, PPOArgs | EvaluatePPO | ComparePPO):
        _ppo(cmd)
    elif isinstance(cmd, Demo):
        _demo(cmd)
    elif isinstance(cmd, Models):
        print(models_table())
    elif isinstance(cmd, SweepArgs | Plot | ReportArgs | TestTimeArgs | ReproduceArgs | TuneArgs):
        _experiments(cmd)
    else:
        for env_id, kwargs in ENV_IDS.items():
            print(f"{env_id:28s} {kwargs}")


def fail(command: str, err: BaseException) -> NoReturn:
    """A usage error: one line on stderr naming the problem, exit code 2, no traceback."""
    prefix = f"trm-rl {command}" if command else "trm-rl"
    print(f"{prefix}: {err}", file=sys.stderr)
    raise SystemExit(2)


#: Short flags of the train commands that stand for a nested field: ``--data NAME`` is
#: ``--data.name NAME`` and ``--env ID`` is ``--env.id ID`` (the spelling of earlier releases).
EDGE_FLAGS: dict[str, dict[str, str]] = {
    "train-supervised": {"--data": "--data.name"},
    "train-ppo": {"--env": "--env.id"},
}


def edge_argv(argv: list[str]) -> list[str]:
    """``argv`` with the short flags of :data:`EDGE_FLAGS` spelled as the nested fields."""
    command = next((a for a in argv if not a.startswith("-")), None)
    table = EDGE_FLAGS.get(command or "", {})
    out = []
    for arg in argv:
        flag, eq, value = arg.partition("=")
        if flag in table:
            arg = table[flag] + eq + value
        out.append(arg)
    return out


Command = (
    Demo
    | Envs
    | TrainArgs
    | Evaluate
    | Solve
    | Models
    | PPOArgs
    | EvaluatePPO
    | ComparePPO
    | SweepArgs
    | Plot
    | ReportArgs
    | TestTimeArgs
    | ReproduceArgs
    | TuneArgs
)


def _parse(argv: list[str]) -> Command:
    return tyro.cli(
        Annotated[Demo, tyro.conf.subcommand("demo")]
        | Annotated[Envs, tyro.conf.subcommand("envs")]
        | Annotated[TrainArgs, tyro.conf.subcommand("train-supervised")]
        | Annotated[Evaluate, tyro.conf.subcommand("evaluate")]
        | Annotated[Solve, tyro.conf.subcommand("solve")]
        | Annotated[Models, tyro.conf.subcommand("models")]
        | Annotated[PPOArgs, tyro.conf.subcommand("train-ppo")]
        | Annotated[EvaluatePPO, tyro.conf.subcommand("evaluate-ppo")]
        | Annotated[ComparePPO, tyro.conf.subcommand("compare-ppo")]
        | Annotated[SweepArgs, tyro.conf.subcommand("sweep")]
        | Annotated[Plot, tyro.conf.subcommand("plot")]
        | Annotated[ReportArgs, tyro.conf.subcommand("report")]
        | Annotated[TestTimeArgs, tyro.conf.subcommand("test-time")]
        | Annotated[ReproduceArgs, tyro.conf.subcommand("reproduce")]
        | Annotated[TuneArgs, tyro.conf.subcommand("tune-ppo")],
        args=argv,
        description=__doc__,
    )


def _demo(cmd: Demo) -> None:
    args = (cmd.env_id, cmd.episodes, cmd.policy, cmd.seed, cmd.render)
    try:
        check_demo_args(*args)
    except ValueError as err:  # a usage error: the message, no traceback
        fail("demo", err)
    run_demo(*args)


def _supervised(cmd: TrainArgs | Evaluate | Solve) -> None:
    """Run a supervised command; a usage error prints its message (no traceback)."""
    name = {TrainArgs: "train-supervised", Evaluate: "evaluate", Solve: "solve"}[type(cmd)]
    try:
        if isinstance(cmd, TrainArgs):
            run_dir = train(resolve_train(cmd))
            print(f"run written to {run_dir} (evaluate with: trm-rl evaluate --run {run_dir})")
        elif isinstance(cmd, Evaluate):
            result = evaluate_run(
                cmd.run, cmd.data, cmd.split, cmd.max_steps, cmd.device, cmd.batch_size,
                cmd.env_episodes, cmd.limit, cmd.snapshot, model=cmd.model, samples=cmd.samples,
                seed=cmd.seed, noise=cmd.noise,
            )  # fmt: skip
            print(json.dumps(result, indent=2))
        else:
            count = solve_file(
                cmd.run, cmd.input, cmd.output, cmd.max_steps, cmd.device, cmd.trajectory,
                model=cmd.model, samples=cmd.samples, select_by=cmd.select, seed=cmd.seed,
                noise=cmd.noise, batch_size=cmd.batch_size, stop_unchanged=cmd.stop_unchanged,
                threads=cmd.threads,
            )  # fmt: skip
            print(f"wrote {count} answers to {cmd.output}")
    except (ValueError, ImportError, FileNotFoundError) as err:
        fail(name, err)


def _ppo(cmd: PPOArgs | EvaluatePPO | ComparePPO) -> None:
    """Run a PPO command; a usage error prints its message (no traceback)."""
    name = {PPOArgs: "train-ppo", EvaluatePPO: "evaluate-ppo", ComparePPO: "compare-ppo"}[type(cmd)]
    try:
        if isinstance(cmd, ComparePPO):
            result = compare_files(cmd.report_a, cmd.report_b, cmd.variant_a, cmd.variant_b)
            print(json.dumps(result, indent=2))
        elif isinstance(cmd, PPOArgs):
            run_dir = train_ppo(resolve_ppo(cmd))
            print(f"run written to {run_dir} (evaluate with: trm-rl evaluate-ppo --run {run_dir})")
        else:
            result = evaluate_ppo(
                cmd.run,
                cmd.env,
                cmd.puzzles,
                cmd.episodes,
                cmd.device,
                cmd.seed,
                max_steps=cmd.max_steps,
                stochastic=cmd.stochastic,
                halt_thresholds=cmd.halt_thresholds,
                confidence_thresholds=cmd.confidence_thresholds,
                fixed_rounds=cmd.fixed_rounds,
                max_length_ratio=cmd.max_length_ratio,
                checkpoint=cmd.checkpoint,
                threads=cmd.threads or None,
            )
            print(json.dumps(result, indent=2))
    except (ValueError, ImportError, FileNotFoundError) as err:
        fail(name, err)


def _experiments(
    cmd: SweepArgs | Plot | ReportArgs | TestTimeArgs | ReproduceArgs | TuneArgs,
) -> None:
    """Run a sweep or a test-time scaling, draw a study's plots or write its report; a usage
    error prints its message (no traceback); ``report --check`` exits 1 when the README differs
    from the CSVs."""
    names = {SweepArgs: "sweep", Plot: "plot", ReportArgs: "report", TestTimeArgs: "test-time",
             ReproduceArgs: "reproduce", TuneArgs: "tune-ppo"}  # fmt: skip
    name = names[type(cmd)]
    try:
        if isinstance(cmd, SweepArgs):
            sweep_main(cmd)
        elif isinstance(cmd, TuneArgs):
            tune_main(cmd)
        elif isinstance(cmd, TestTimeArgs):
            result = run_test_time(cmd)
            print(format_table(result["rows"]))
            for path in [result["csv"], *result["plots"]]:
                print(path)
        elif isinstance(cmd, ReportArgs | ReproduceArgs):
            code = run_report(cmd) if isinstance(cmd, ReportArgs) else run_reproduce(cmd)
            if code:
                raise SystemExit(code)
        else:
            written = plot_study(cmd.study_dir, cmd.metric)
            print(summary_tables(cmd.study_dir))
            for path in written["plots"] + written["report"]:
                print(path)
    except (ValueError, ImportError, FileNotFoundError) as err:
        fail(name, err)


if __name__ == "__main__":
    main()
