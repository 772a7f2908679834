"""Choose PPO's settings for one policy on validation, every setting at the same FLOP budget.

    trm-rl tune-ppo --env trm_rl/Maze-v0 --env-set size=7 --policy trm-carry --flops 2e13 \\
        --grid n_epochs=1,2,4 batch_size=256,512 --seeds 0 1

Each setting of the grid (the Cartesian product of ``--grid``, fields of ``PPOSettings``) trains
``train-ppo`` runs, one per seed, for the same number of training FLOPs: the budget in env steps
is ``--flops`` over the setting's FLOPs per env step (``trm_rl.flops.ppo_env_step_flops``:
the rollout forward plus ``n_epochs`` x the update's forward and backward), rounded to whole
rollouts. A setting that spends fewer FLOPs per env step (one epoch, say) so sees more env steps;
one that learns more per env step pays for it. Equal FLOPs, not equal env steps, is what makes
the choice about cost: a policy's defaults should be the settings that learn most per unit of
compute on this machine or any other, and FLOPs do not depend on the machine's load.

Every policy tuned with the same ``--flops``, grid and seeds gets the same tuning budget. The
score of a trial is its final validation ``val/success_2x`` (validation puzzles only; the test
split is never read here). The choice follows the one-standard-error rule: among the settings
whose mean over seeds is within one standard error of the best mean, the one with the fewest FLOPs
per env step (the cheapest; ties: more env steps per second). The standard error of a mean is the
larger of the seeds' (``stdev / sqrt(n)``) and the binomial one of its ``n x val_episodes``
episodes, so two seeds that happen to agree do not make a difference look certain. A slower
setting is only chosen when it is better by more than the noise. Results:

- ``OUT/trials.csv``: one row per trial (setting, seed, env steps, FLOPs per env step, final and
  best validation score, training minutes, env steps/s);
- ``OUT/summary.csv``: one row per setting (mean and standard error over seeds, n);
- ``OUT/best.json``: the chosen setting, its score and the command that reproduces the tuning.

Runs go to ``--runs-dir`` and resume: a finished trial is read back, an interrupted one continues
from its last checkpoint, so the command can be run again after an interrupt.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
import shlex
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envs.utils import atomic_write
from experiments.collect import write_csv
from trm_rl.flops import ppo_env_step_flops
from trm_rl.policies import train as ppo_train
from trm_rl.policies.config import PPOSettings, ppo_args, resolve_ppo

TRIAL_FIELDS = [
    "setting", "seed", "timesteps", "flops_per_env_step", "flops", "val_final", "val_best",
    "val_episodes", "train_minutes", "env_steps_per_s", "run",
]  # fmt: skip
SUMMARY_FIELDS = [
    "setting", "n", "val_mean", "val_se", "val_best_mean", "timesteps", "flops_per_env_step",
    "env_steps_per_s", "chosen",
]  # fmt: skip
SCORE = "val/success_2x"


@dataclass(frozen=True)
class TuneArgs:
    """Choose PPO's settings for a policy on validation, every setting at the same FLOP
    budget (see experiments/tune_ppo.py)."""

    env: str = "trm_rl/Maze-9x9-v0"
    """Registered env id the policy trains and validates on."""
    env_set: tuple[str, ...] = ()
    """Env fields as KEY=VALUE items (train-ppo --env-set), e.g. size=7 with trm_rl/Maze-v0."""
    policy: str = "trm-carry"
    """The policy (train-ppo --policy)."""
    flops: float = 2e13
    """Training FLOPs per trial (rollout forward + update forward and backward)."""
    grid: tuple[str, ...] = ("n_epochs=1,2,4", "batch_size=256,512")
    """FIELD=V1,V2,... items over PPOSettings fields (n_epochs, batch_size, n_steps,
    learning_rate, ...); the grid is their Cartesian product."""
    seeds: tuple[int, ...] = (0, 1)
    """Seeds per setting."""
    init_from: str | None = None
    """Start every trial from this supervised run or shipped model (train-ppo --init-from)."""
    freeze_trm: bool = False
    """Train only the heads (train-ppo --freeze-trm)."""
    think_rounds: int | None = None
    """ACT thinking rounds (train-ppo --think-rounds)."""
    val_episodes: int = 200
    """Validation puzzles per evaluation."""
    evals: int = 5
    """Validations per trial (the last one is the trial's score)."""
    out: Path | None = None
    """Where the CSVs and best.json go (default: results/ppo_tuning/<env>-<policy>)."""
    runs_dir: Path | None = None
    """Where the trials' runs go (default: runs/ppo_tuning/<env>-<policy>)."""
    dry_run: bool = False
    """Print the trials and their env-step budgets, train nothing."""

    def __post_init__(self) -> None:
        if not (isinstance(self.flops, int | float) and math.isfinite(self.flops)) or (
            self.flops <= 0
        ):
            raise ValueError(f"--flops {self.flops!r} must be a positive number, e.g. 2e13")
        if not self.seeds:
            raise ValueError("give at least one seed (--seeds 0 1)")
        if self.evals < 1:
            raise ValueError(f"--evals {self.evals} must be at least 1")
        grid_settings(self.grid)  # refuse a bad grid before anything trains

    @property
    def tag(self) -> str:
        """``<env>[-<k><v>...]-<policy>``, e.g. ``Maze-v0-size7-trm-carry``: the default folder
        name."""
        fields = [item.replace("=", "").replace("_", "") for item in self.env_set]
        return "-".join([self.env.split("/")[-1], *fields, self.policy]).replace("/", "_")

    @property
    def out_dir(self) -> Path:
        return self.out or Path("results/ppo_tuning") / self.tag

    @property
    def run_root(self) -> Path:
        return self.runs_dir or Path("runs/ppo_tuning") / self.tag


def grid_settings(grid: tuple[str, ...]) -> list[dict[str, Any]]:
    """The settings of ``FIELD=V1,V2`` items: their Cartesian product, as dicts of PPOSettings
    fields (values read as JSON numbers, else kept as text).

    :raises ValueError: for an item without ``=``, an unknown field, a repeated field or a value
        PPOSettings refuses.
    """
    names = [f.name for f in dataclasses.fields(PPOSettings)]
    axes: dict[str, list[Any]] = {}
    for item in grid:
        key, eq, values = item.partition("=")
        if not eq or not values:
            raise ValueError(f"--grid item {item!r} is not FIELD=V1,V2,... (e.g. n_epochs=1,2,4)")
        key = key.strip().replace("-", "_")
        if key not in names:
            raise ValueError(f"--grid field {key!r} is not a PPO setting; choose from {names}")
        if key in axes:
            raise ValueError(f"--grid names {key!r} twice; give its values in one item")
        axes[key] = [_value(v) for v in values.split(",")]
    settings = [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]
    for setting in settings:
        PPOSettings(**setting)  # every value checked here, with the field's own message
    return settings


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text.strip()


def setting_name(setting: dict[str, Any]) -> str:
    """A setting as a short label, e.g. ``n_epochs=1 batch_size=256``."""
    return " ".join(f"{k}={v}" for k, v in setting.items()) or "defaults"


def _folder(setting: dict[str, Any], seed: int) -> str:
    parts = [f"{k.replace('_', '')}{v}" for k, v in setting.items()]
    return "-".join([*parts, f"s{seed}"]).replace("/", "_")


def trial_config(args: TuneArgs, setting: dict[str, Any], seed: int, timesteps: int) -> Any:
    """The resolved PPOConfig of one trial."""
    run = {
        "policy": args.policy, "timesteps": timesteps, "seed": seed,
        "out": args.run_root / _folder(setting, seed), "freeze_trm": args.freeze_trm,
        "think_rounds": args.think_rounds, "val_episodes": args.val_episodes,
        "eval_every_steps": None, "progress": False, "tensorboard": False,
        "env_set": args.env_set,
    }  # fmt: skip
    if args.init_from is not None:
        run["init_from"] = Path(args.init_from)
    cfg = resolve_ppo(ppo_args(args.env, ppo=setting, **run))
    rollout = cfg.ppo.n_envs * cfg.ppo.n_steps
    every = max(rollout, timesteps // args.evals // rollout * rollout)
    return dataclasses.replace(cfg, eval_every_steps=every)


def budget(args: TuneArgs, setting: dict[str, Any]) -> tuple[int, float]:
    """(env steps, FLOPs per env step) of a setting at ``args.flops``: whole rollouts, at least
    one."""
    probe = trial_config(args, setting, args.seeds[0], 10**9)
    per_step = ppo_env_step_flops(probe)
    rollout = probe.ppo.n_envs * probe.ppo.n_steps
    return max(rollout, int(args.flops / per_step) // rollout * rollout), per_step


def run_trial(cfg: Any) -> dict[str, Any]:
    """Train (or resume, or read back) one trial and return its scores."""
    run_dir = Path(cfg.out)
    started = (run_dir / "config.json").exists()
    if not started or ppo_train.timesteps_done(run_dir) < cfg.timesteps:
        ppo_train.train_ppo(dataclasses.replace(cfg, resume=started))
    return read_trial(run_dir)


def read_trial(run_dir: Path) -> dict[str, Any]:
    """The final and best validation score, training minutes and env steps/s of a PPO run,
    from its ``metrics.csv``.

    :raises ValueError: when the run logged no validation.
    """
    with (run_dir / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    scored = [r for r in rows if r.get(SCORE) not in (None, "")]
    if not scored:
        raise ValueError(f"{run_dir} logged no {SCORE}; was it interrupted before validating?")
    minutes = max(float(r["time/train_minutes"]) for r in rows if r.get("time/train_minutes"))
    steps = max(
        int(float(r["time/total_timesteps"])) for r in rows if r.get("time/total_timesteps")
    )
    return {
        "val_final": float(scored[-1][SCORE]),
        "val_best": max(float(r[SCORE]) for r in scored),
        "train_minutes": minutes,
        "env_steps_per_s": steps / max(minutes * 60, 1e-9),
    }


def summarise(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per setting: mean and standard error of the final validation score over seeds,
    the chosen setting marked (the one-standard-error rule of the module doc)."""
    rows = []
    for name in dict.fromkeys(t["setting"] for t in trials):
        mine = [t for t in trials if t["setting"] == name]
        finals = [t["val_final"] for t in mine]
        mean = statistics.fmean(finals)
        seeds_se = statistics.stdev(finals) / math.sqrt(len(finals)) if len(finals) > 1 else 0.0
        episodes = sum(int(t.get("val_episodes") or 0) for t in mine)
        binomial = math.sqrt(mean * (1 - mean) / episodes) if episodes else 0.0
        rows.append({
            "setting": name, "n": len(mine), "val_mean": mean, "val_se": max(seeds_se, binomial),
            "val_best_mean": statistics.fmean(t["val_best"] for t in mine),
            "timesteps": mine[0]["timesteps"], "flops_per_env_step": mine[0]["flops_per_env_step"],
            "env_steps_per_s": statistics.fmean(t["env_steps_per_s"] for t in mine), "chosen": False,
        })  # fmt: skip
    top = max(rows, key=lambda r: r["val_mean"])
    near = [r for r in rows if r["val_mean"] >= top["val_mean"] - top["val_se"]]
    chosen = min(near, key=lambda r: (r["flops_per_env_step"], -r["env_steps_per_s"]))
    chosen["chosen"] = True
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The summary as a text table."""
    lines = [
        f"{'setting':32s} {'n':>2s} {'val success (mean +- se)':>25s} {'env steps':>10s} "
        f"{'MFLOP/step':>10s} {'steps/s':>8s}"
    ]
    for r in rows:
        mark = "  <- chosen" if r["chosen"] else ""
        lines.append(
            f"{r['setting']:32s} {r['n']:2d} {r['val_mean']:16.3f} +- {r['val_se']:.3f} "
            f"{r['timesteps']:10d} {r['flops_per_env_step'] / 1e6:10.1f} "
            f"{r['env_steps_per_s']:8.1f}{mark}"
        )
    return "\n".join(lines)


def command_of(args: TuneArgs) -> str:
    """The ``trm-rl tune-ppo`` command of ``args`` (written to best.json)."""
    parts = ["trm-rl", "tune-ppo", "--env", args.env, *_flag("--env-set", args.env_set),
             "--policy", args.policy,
             "--flops", f"{args.flops:g}", "--grid", *args.grid,
             "--seeds", *map(str, args.seeds)]  # fmt: skip
    if args.init_from is not None:
        parts += ["--init-from", args.init_from]
    if args.freeze_trm:
        parts.append("--freeze-trm")
    if args.think_rounds is not None:
        parts += ["--think-rounds", str(args.think_rounds)]
    parts += ["--val-episodes", str(args.val_episodes), "--evals", str(args.evals)]
    return shlex.join(parts)


def _flag(name: str, items: tuple[str, ...]) -> list[str]:
    return [name, *items] if items else []


def tune(args: TuneArgs) -> dict[str, Any]:
    """Run (or resume) the tuning; returns ``{"trials", "summary", "best", "paths"}``.

    With ``dry_run`` only the trials and their budgets are returned (``summary`` empty)."""
    trials: list[dict[str, Any]] = []
    settings = grid_settings(args.grid)
    for setting in settings:
        timesteps, per_step = budget(args, setting)
        for seed in args.seeds:
            cfg = trial_config(args, setting, seed, timesteps)
            row = {
                "setting": setting_name(setting), "seed": seed, "timesteps": timesteps,
                "flops_per_env_step": per_step, "flops": per_step * timesteps,
                "val_episodes": args.val_episodes, "run": str(cfg.out),
            }  # fmt: skip
            if not args.dry_run:
                row.update(run_trial(cfg))
                trials.append(row)
                write_csv(args.out_dir / "trials.csv", trials, TRIAL_FIELDS)
            else:
                trials.append(row)
    if args.dry_run:
        return {"trials": trials, "summary": [], "best": None, "paths": []}
    summary = summarise(trials)
    best = next(r for r in summary if r["chosen"])
    out = args.out_dir
    paths = [
        write_csv(out / "trials.csv", trials, TRIAL_FIELDS),
        write_csv(out / "summary.csv", summary, SUMMARY_FIELDS),
    ]
    chosen = next(s for s in settings if setting_name(s) == best["setting"])
    record = {
        "env": args.env, "policy": args.policy, "flops_per_trial": args.flops,
        "seeds": list(args.seeds), "chosen": chosen, "val_mean": best["val_mean"],
        "val_se": best["val_se"], "command": command_of(args),
    }  # fmt: skip
    with atomic_write(out / "best.json") as f:
        json.dump(record, f, indent=2)
    paths.append(out / "best.json")
    return {"trials": trials, "summary": summary, "best": record, "paths": paths}


def main(args: TuneArgs) -> None:
    """``trm-rl tune-ppo``: run the tuning and print the table, the choice and the files."""
    result = tune(args)
    if args.dry_run:
        for t in result["trials"]:
            print(f"{t['setting']:32s} seed {t['seed']}: {t['timesteps']} env steps "
                  f"({t['flops_per_env_step'] / 1e6:.1f} MFLOP each)")  # fmt: skip
        return
    print(table(result["summary"]))
    print(f"chosen: {json.dumps(result['best']['chosen'])}")
    for path in result["paths"]:
        print(path)


__all__ = ["TuneArgs", "budget", "grid_settings", "read_trial", "summarise", "table", "tune"]
