"""End-to-end PPO throughput of every policy, against a naive TRM features extractor.

Every policy trains with the MaskablePPO family on the same natively batched env with the same
``n_envs`` and ``n_steps``, each at its default ``n_epochs`` (``POLICY_PPO_DEFAULTS``, chosen by
``trm-rl tune-ppo``; the naive policies keep the recipe's) unless ``--n-epochs`` sets one for all. The agents are built once and measured in alternating
rounds in one process; the table gives medians. A round times ``agent.learn`` over
``--iterations`` PPO iterations (rollout and update) after a warm-up iteration; a callback
splits rollout from update time.

Policies:

- ``naive``: what a straightforward user writes: :class:`NaiveTRMExtractor` under SB3's
  ``MultiInputPolicy`` with its default MLP heads (``net_arch`` left at SB3's default: two layers
  of 64 for the actor and for the critic) and SB3's default ``batch_size=64``. The extractor is
  the TRM of ``trm`` (same config, so the same model size) run from its initial state for all
  ``H_cycles x (L_cycles + 1)`` network calls with gradients through every one of them
  (``full_backprop=True``); the features are ``z_H`` averaged over the cells.
- ``naive-batch``: the same at ``--batch-size`` (what the batch size alone buys).
- ``trm``, ``trm-carry``, ``trm-h1l1``, ``mlp``, ``conv``: the policies of ``trm-rl train-ppo``
  (:func:`trm_rl.policies.agents.build_agent`) at ``--batch-size``.
- ``trm-frozen``, ``trm-carry-frozen``: ``trm`` and ``trm-carry`` with ``--freeze-trm``
  (:mod:`trm_rl.policies.frozen`): the rollout runs the frozen trunk once per env step and the
  buffer keeps its features, so the update trains the heads without running the TRM.

Columns:

- env-steps/s: ``n_envs x n_steps x iterations`` over the seconds of ``learn``;
- FLOPs per env step (:func:`trm_rl.flops.agent_env_step_flops`): :class:`FlopCounterMode`
  (matrix products and convolutions, 2 FLOPs a multiply-add, with the weight gradient of grouped
  convolutions counted per group; element-wise work is not counted) of one rollout forward
  on ``n_envs`` observations divided by ``n_envs``, plus ``n_epochs`` times one update
  (``evaluate_actions``, the PPO loss, its backward) on a real minibatch divided by its rows;
- achieved GFLOP/s: FLOPs per env step x env-steps/s; % sgemm: that over the machine's float32
  matrix-product peak, measured in the same run on the same device and threads
  (:func:`sgemm_peak_gflops`: the best of several timed ``SGEMM_SIZE``-square products);
- bare GFLOP/s: a tight loop of that update plus gradient clipping and the optimizer step on one
  fixed minibatch of the same policy and size; achieved / bare is the share of the update's own
  speed that the whole PPO run keeps;
- state + features bytes/step: what the buffer stores per env step beyond the observation:
  ``trm-carry``'s state (``rollout_buffer.state_bytes_per_step``) plus the frozen variants'
  trunk features (``feature_bytes_per_step``); obs bytes/step: the stored observation and
  action mask, for scale.

    python benchmarks/ppo_throughput.py                      # Maze 9x9, 1 thread, every policy
    python benchmarks/ppo_throughput.py --env trm_rl/Sudoku-4x4-v0 --policies naive trm trm-carry
    python benchmarks/ppo_throughput.py --policies naive trm trm-frozen   # the frozen trunk's gain
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import sb3_contrib
import torch
import tyro
from gymnasium import spaces
from sb3_contrib import MaskablePPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from envs.utils import atomic_write
from trm_rl.flops import agent_env_step_flops, ppo_loss
from trm_rl.model.config import TRMConfig
from trm_rl.model.trm import TRM, InnerCarry
from trm_rl.policies.agents import build_agent
from trm_rl.policies.config import ppo_args, resolve_ppo
from trm_rl.policies.vec_env import make_sb3_vec_env
from trm_rl.utils import resolve_device, set_seed

Policy = Literal[
    "naive", "naive-batch", "trm", "trm-carry", "trm-h1l1", "trm-frozen", "trm-carry-frozen",
    "mlp", "conv",
]  # fmt: skip
#: SB3's default PPO minibatch, which the naive user keeps.
NAIVE_BATCH = 64
TRM_POLICIES = ("trm", "trm-carry", "trm-h1l1", "trm-frozen", "trm-carry-frozen")
#: Benchmark names of the ``--freeze-trm`` runs -> their ``--policy``.
FROZEN = {"trm-frozen": "trm", "trm-carry-frozen": "trm-carry"}
#: Side of the square float32 products that measure the machine's matrix-product peak.
SGEMM_SIZE = 1024


@dataclass
class Args:
    """Options of the PPO throughput benchmark."""

    env: str = "trm_rl/Maze-9x9-v0"
    """Registered env id (its recipe's env arguments apply, e.g. maze shaping)."""
    preset: str | None = None
    """TRM preset (None: the env recipe's); the naive extractor is the same TRM and the
    baselines match its size."""
    policies: tuple[Policy, ...] = (
        "naive", "naive-batch", "trm", "trm-carry", "trm-h1l1", "trm-frozen", "trm-carry-frozen",
        "mlp", "conv",
    )  # fmt: skip
    """Policies to measure side by side (see the module docstring)."""
    n_envs: int = 16
    """Parallel envs (one batched env per agent)."""
    n_steps: int = 64
    """Steps per env per rollout."""
    n_epochs: int | None = None
    """Passes over each rollout for every policy (None: each policy's default, the epochs
    column)."""
    batch_size: int = 256
    """Minibatch of every policy except 'naive' (which keeps SB3's default of 64)."""
    iterations: int = 3
    """Timed PPO iterations per round (after one warm-up iteration)."""
    naive_iterations: int = 1
    """Timed PPO iterations per round of the naive policies, which are slow."""
    rounds: int = 3
    """Alternating rounds over the policies; the table reports medians."""
    bare_steps: int = 8
    """Optimizer steps of the bare update loop per round."""
    device: str = "auto"
    """'auto' (CUDA when present), 'cpu', 'cuda', ..."""
    threads: int = 1
    """torch threads in both phases."""
    compile: bool = False
    """compile_network() the TRM of trm, trm-carry and trm-h1l1 (FLOPs are counted before)."""
    seed: int = 0
    """Seed of every agent and env."""
    out_dir: Path | None = Path("results/benchmarks")
    """Where ppo_throughput.md and .json are written (None: print only)."""


class NaiveTRMExtractor(BaseFeaturesExtractor):
    """The TRM as a plain SB3 features extractor: one supervision step from the initial state
    with gradients through every network call, ``z_H`` averaged over the cells.

    :param observation_space: a trm_rl Maze or Sudoku observation space.
    :param model: ``TRMConfig.to_dict()`` of the TRM (run with ``full_backprop=True``).
    """

    def __init__(self, observation_space: spaces.Dict, model: dict[str, Any]) -> None:
        config = TRMConfig.from_dict(model).replace(full_backprop=True)
        super().__init__(observation_space, features_dim=config.hidden_size)
        self.trm = TRM(config)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        trm = self.trm
        tokens = observations["grid"].long()  # [B, rows, cols]
        inputs = tokens if trm.config.mixer == "conv" else tokens.flatten(1)
        x = trm.input_embeddings(inputs)  # [B, positions, hidden]
        fresh = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
        start = trm.reset_carry(fresh, InnerCarry(z_H=torch.zeros_like(x), z_L=torch.zeros_like(x)))
        z_H, _ = trm.deep_recursion(start.z_H, start.z_L, x, trm.grid_shape(inputs))
        return z_H[:, trm.config.prefix_len :].float().mean(dim=1)  # [B, hidden]


class PhaseTimer(BaseCallback):
    """Seconds spent collecting rollouts; the rest of ``learn`` is the update."""

    def __init__(self) -> None:
        super().__init__()
        self.rollout_s = 0.0
        self._start = 0.0

    def _on_rollout_start(self) -> None:
        self._start = time.perf_counter()

    def _on_rollout_end(self) -> None:
        self.rollout_s += time.perf_counter() - self._start

    def _on_step(self) -> bool:
        return True


@dataclass
class Entry:
    """One policy under measurement and its timings."""

    agent: Any
    batch: Any  # a fixed minibatch of the agent's buffer
    iterations: int
    flops: dict[str, float]
    timer: PhaseTimer = field(default_factory=PhaseTimer)
    learn_s: list[float] = field(default_factory=list)
    rollout_s: list[float] = field(default_factory=list)
    bare_s: list[float] = field(default_factory=list)


def build(args: Args, name: str, device: torch.device) -> Any:
    """A fresh agent of policy ``name`` on its own batched env."""
    naive = name.startswith("naive")
    settings = {"n_envs": args.n_envs, "n_steps": args.n_steps, "batch_size": args.batch_size}
    if args.n_epochs is not None:
        settings["n_epochs"] = args.n_epochs
    frozen = name in FROZEN
    policy = "trm" if naive else FROZEN.get(name, name)
    cfg = resolve_ppo(
        ppo_args(args.env, policy=policy, preset=args.preset, ppo=settings, timesteps=1,
                 seed=args.seed, freeze_trm=frozen)
    )  # fmt: skip
    venv = make_sb3_vec_env(cfg.env.id, args.n_envs, seed=args.seed, **cfg.env.kwargs)
    set_seed(args.seed)
    if not naive:
        return build_agent(cfg, venv, device)[0]
    ppo = cfg.ppo.sb3_kwargs()
    ppo["batch_size"] = NAIVE_BATCH if name == "naive" else args.batch_size
    kwargs = {"features_extractor_class": NaiveTRMExtractor,
              "features_extractor_kwargs": {"model": cfg.model.to_dict()}}  # fmt: skip
    return MaskablePPO(
        "MultiInputPolicy", venv, policy_kwargs=kwargs, seed=args.seed, device=device, verbose=0,
        **ppo,
    )  # fmt: skip


def sgemm_peak_gflops(device: torch.device, size: int = SGEMM_SIZE, repeats: int = 5) -> float:
    """The best GFLOP/s of ``size``-square float32 matrix products on ``device`` with the
    current torch threads: the peak that achieved FLOP/s are compared with."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    out = torch.empty(size, size, device=device)
    torch.mm(a, b, out=out)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def bare_seconds(agent: Any, batch: Any, steps: int) -> float:
    """Seconds of ``steps`` update steps (loss, backward, clipping, Adam) on one minibatch."""
    policy = agent.policy
    policy.set_training_mode(True)
    start = time.perf_counter()
    for _ in range(steps):
        loss = ppo_loss(agent, batch)
        policy.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), agent.max_grad_norm)
        policy.optimizer.step()
    if policy.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def prepare(args: Args, name: str, device: torch.device) -> Entry:
    """Build, warm up (one iteration; another after compiling) and count FLOPs."""
    agent = build(args, name, device)
    steps = args.n_envs * args.n_steps
    agent.learn(steps)  # warm-up; resets the env
    batch = next(agent.rollout_buffer.get(agent.batch_size))
    flops = agent_env_step_flops(agent, batch, agent.n_epochs)
    if args.compile and name in TRM_POLICIES:
        agent.policy.trm.compile_network()
        agent.learn(steps, reset_num_timesteps=False)
    bare_seconds(agent, batch, 2)
    iterations = args.naive_iterations if name.startswith("naive") else args.iterations
    return Entry(agent, batch, iterations, flops)


def measure(entry: Entry, args: Args) -> None:
    """One round: ``learn`` over the entry's iterations, then the bare loop."""
    entry.timer.rollout_s = 0.0
    start = time.perf_counter()
    entry.agent.learn(
        entry.iterations * args.n_envs * args.n_steps,
        callback=entry.timer,
        reset_num_timesteps=False,
    )
    entry.learn_s.append(time.perf_counter() - start)
    entry.rollout_s.append(entry.timer.rollout_s)
    entry.bare_s.append(bare_seconds(entry.agent, entry.batch, args.bare_steps))


def row_of(name: str, entry: Entry, args: Args, peak_gflops: float) -> dict[str, Any]:
    """The table row of one policy from the medians of its rounds."""
    agent, flops = entry.agent, entry.flops
    buffer = agent.rollout_buffer
    learn_s, rollout_s = statistics.median(entry.learn_s), statistics.median(entry.rollout_s)
    sps = entry.iterations * args.n_envs * args.n_steps / learn_s
    bare_samples_per_s = (
        args.bare_steps * len(entry.batch.actions) / statistics.median(entry.bare_s)
    )
    stored = sum(v.nbytes for v in buffer.observations.values()) + buffer.action_masks.nbytes
    achieved = flops["per_env_step"] * sps
    bare = flops["update_per_sample"] * bare_samples_per_s
    return {
        "policy": name,
        "algorithm": type(agent).__name__,
        "parameters": sum(p.numel() for p in agent.policy.parameters()),
        "batch_size": agent.batch_size,
        "n_epochs": agent.n_epochs,
        "iterations": entry.iterations,
        "env_steps_per_s": round(sps, 1),
        "rollout_s": round(rollout_s, 3),
        "update_s": round(learn_s - rollout_s, 3),
        "flops_rollout_per_step": int(flops["rollout_per_step"]),
        "flops_update_per_sample": int(flops["update_per_sample"]),
        "flops_per_env_step": int(flops["per_env_step"]),
        "achieved_gflops": round(achieved / 1e9, 3),
        "bare_gflops": round(bare / 1e9, 3),
        "achieved_over_bare": round(achieved / bare, 3),
        "achieved_over_sgemm_peak": round(achieved / 1e9 / peak_gflops, 4),
        "carry_bytes_per_step": getattr(buffer, "state_bytes_per_step", 0),
        "feature_bytes_per_step": getattr(buffer, "feature_bytes_per_step", 0),
        "obs_bytes_per_step": stored // (args.n_envs * args.n_steps),
    }


def label(name: str, args: Args) -> str:
    return f"naive (batch {args.batch_size})" if name == "naive-batch" else name


def main(args: Args) -> None:
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    peak_before = sgemm_peak_gflops(device)
    entries: dict[str, Entry] = {}
    for name in dict.fromkeys(args.policies):
        start = time.perf_counter()
        entries[name] = prepare(args, name, device)
        print(f"prepared {name} in {time.perf_counter() - start:.1f} s", flush=True)
    for r in range(args.rounds):
        for name, entry in entries.items():
            measure(entry, args)
            print(f"round {r}: {name} {entry.learn_s[-1]:.2f} s", flush=True)
    peak = max(peak_before, sgemm_peak_gflops(device))  # before and after: the load may change
    rows = [row_of(name, entry, args, peak) for name, entry in entries.items()]
    naive_sps = next((r["env_steps_per_s"] for r in rows if r["policy"] == "naive"), None)
    for r in rows:
        r["speedup_vs_naive"] = round(r["env_steps_per_s"] / naive_sps, 2) if naive_sps else None
    info = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "sb3_contrib": sb3_contrib.__version__,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "loadavg_1min": os.getloadavg()[0],
        "sgemm_size": SGEMM_SIZE,
        "sgemm_peak_gflops": round(peak, 2),
    }
    table = [
        "# PPO throughput",
        "",
        f"`{args.env}`, n_envs {args.n_envs}, n_steps {args.n_steps}, n_epochs "
        f"{args.n_epochs or 'each policy default (epochs column)'}; "
        f"{args.iterations} timed iterations per round ({args.naive_iterations} for the naive "
        f"policies), median of {args.rounds} alternating rounds. Device {device}, "
        f"{info['threads']} torch threads{', compiled TRMs' if args.compile else ''}, load "
        f"average {info['loadavg_1min']:.2f}. FLOPs: matrix products and convolutions "
        "(FlopCounterMode), rollout forward + n_epochs x (forward + backward) per env step. "
        f"sgemm peak ({SGEMM_SIZE}-square float32 products, same device and threads, measured "
        f"in this run): {peak:.1f} GFLOP/s. Reproduce: `python benchmarks/ppo_throughput.py`.",
        "",
        "| policy | params | batch | epochs | env-steps/s | vs naive | rollout s / update s "
        "| MFLOP / env step | achieved GFLOP/s | % sgemm | bare GFLOP/s | achieved / bare "
        "| state + features B/step | obs B/step |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        speedup = "" if r["speedup_vs_naive"] is None else f"{r['speedup_vs_naive']:.1f}x"
        share = r["rollout_s"] / (r["rollout_s"] + r["update_s"])
        table.append(
            f"| {label(r['policy'], args)} | {r['parameters']:,} | {r['batch_size']} | "
            f"{r['n_epochs']} | "
            f"{r['env_steps_per_s']:,.0f} | {speedup} | {r['rollout_s']:.2f} / "
            f"{r['update_s']:.2f} ({share:.0%}) | {r['flops_per_env_step'] / 1e6:,.1f} | "
            f"{r['achieved_gflops']:.2f} | {r['achieved_over_sgemm_peak']:.1%} | "
            f"{r['bare_gflops']:.2f} | {r['achieved_over_bare']:.2f} | "
            f"{r['carry_bytes_per_step'] + r['feature_bytes_per_step'] or ''} | "
            f"{r['obs_bytes_per_step']} |"
        )
    print("\n".join(table))
    if args.out_dir is not None:
        name = "ppo_throughput" + (
            "_" + str(device).replace(":", "") if device.type != "cpu" else ""
        )
        with atomic_write(args.out_dir / f"{name}.md") as f:
            f.write("\n".join(table) + "\n")
        with atomic_write(args.out_dir / f"{name}.json") as f:
            json.dump({"args": {**asdict(args), "out_dir": str(args.out_dir)}, "machine": info,
                       "rows": rows}, f, indent=2)  # fmt: skip


if __name__ == "__main__":
    main(tyro.cli(Args))
