"""Supervised trainer throughput against a bare loop over the same model.

Both run the same TRM on the same data for the same number of supervision steps: the trainer
(``trm_rl.supervised.trainer.train``: carry bookkeeping, ACT loss, schedule, clipping, EMA,
metrics, no evaluation and no checkpoint inside the timed window) and a bare loop of
forward + ACT loss + backward + AdamW step on a fixed batch. Alternating rounds in one process;
the table gives samples/s (rows x steps / s) of each and the trainer's overhead.

    python benchmarks/train_throughput.py                      # CPU, cpu-sudoku-4x4 and cpu-maze-conv
    python benchmarks/train_throughput.py --device cuda --presets paper-sudoku-mlp --bf16
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import tyro

from envs.utils import atomic_write
from trm_rl.model.losses import act_loss
from trm_rl.supervised.config import TrainConfig, resolve_train, train_args
from trm_rl.supervised.models import build_data, build_run_model
from trm_rl.supervised.trainer import train
from trm_rl.utils import resolve_device


@dataclass
class Args:
    """Options of the trainer throughput benchmark."""

    runs: tuple[str, ...] = ("sudoku-4x4:cpu-sudoku-4x4", "maze-11x11:cpu-maze-conv")
    """DATA:PRESET pairs to measure."""
    steps: int = 60
    """Supervision steps per timed run (after a warm-up run of the same length)."""
    rounds: int = 3
    """Alternating trainer / bare-loop rounds; the table reports medians."""
    batch_size: int = 64
    """Rows per step."""
    device: str = "auto"
    """'auto', 'cpu', 'cuda', ..."""
    bf16: bool = False
    """Run the network in bfloat16."""
    out_dir: Path | None = Path("results/benchmarks")
    """Where train_throughput.md and .json are written (None: print only)."""


def bare_loop(cfg: TrainConfig, steps: int) -> float:
    """Seconds for ``steps`` supervision steps of the plain loop on one fixed batch."""
    data, _ = build_data(cfg)
    model = build_run_model(cfg)
    device = resolve_device(cfg.device)
    model.to(device).train()
    batch_size = cfg.optim.batch_size
    inputs, labels = data.train_sampler(seed=0).sample(batch_size)
    batch = {
        "inputs": torch.as_tensor(inputs, device=device).long(),
        "labels": torch.as_tensor(labels, device=device).long(),
    }
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    carry = model.initial_carry(batch)
    start = time.perf_counter()
    for _ in range(steps):
        carry, outputs = model(carry, batch)
        (act_loss(outputs, carry).loss / batch_size).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def trainer_run(cfg: TrainConfig) -> float:
    """Training seconds the trainer reports for the run (evaluation excluded)."""
    import csv

    run = train(cfg)
    with (run / "metrics.csv").open() as f:
        return float(list(csv.DictReader(f))[-1]["time_s"])


def main(args: Args) -> None:
    rows = []
    for spec in args.runs:
        data, preset = spec.split(":")
        with tempfile.TemporaryDirectory() as tmp:

            def cfg(name: str, args=args, data=data, preset=preset, tmp=tmp) -> TrainConfig:
                return resolve_train(
                    train_args(
                        data,
                        preset=preset,
                        steps=args.steps,
                        optim={"batch_size": args.batch_size},
                        out=Path(tmp) / name,
                        eval_every=10**9,
                        eval_size=1,
                        progress=False,
                        tensorboard=False,
                        checkpoint_seconds=1e9,
                        device=args.device,
                        bf16=args.bf16,
                        model_set=("halt_exploration_prob=0.0",),
                    )
                )

            trainer_run(cfg("warm"))
            bare_loop(cfg("warm-bare"), args.steps)
            t_train, t_bare = [], []
            for r in range(args.rounds):
                t_train.append(trainer_run(cfg(f"t{r}")))
                t_bare.append(bare_loop(cfg(f"b{r}"), args.steps))
        samples = args.steps * args.batch_size
        train_sps, bare_sps = (
            samples / statistics.median(t_train),
            samples / statistics.median(t_bare),
        )
        rows.append(
            {
                "data": data,
                "preset": preset,
                "trainer_samples_per_s": round(train_sps, 1),
                "bare_samples_per_s": round(bare_sps, 1),
                "overhead_percent": round(100 * (bare_sps / train_sps - 1), 2),
            }
        )
        print(rows[-1], flush=True)
    device = str(resolve_device(args.device))
    info = {
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
        "loadavg_1min": os.getloadavg()[0],
    }
    table = [
        "# Supervised trainer throughput",
        "",
        f"{args.steps} supervision steps x batch {args.batch_size}, median of {args.rounds} "
        f"alternating rounds. Device {device}, {info['threads']} torch threads, load average "
        f"{info['loadavg_1min']:.2f}. Reproduce: `python benchmarks/train_throughput.py`.",
        "",
        "| data | preset | trainer samples/s | bare loop samples/s | trainer overhead |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        table.append(
            f"| {r['data']} | {r['preset']} | {r['trainer_samples_per_s']:,} | "
            f"{r['bare_samples_per_s']:,} | {r['overhead_percent']:+.1f}% |"
        )
    print("\n".join(table))
    if args.out_dir is not None:
        name = "train_throughput" + ("_" + device.replace(":", "") if device != "cpu" else "")
        with atomic_write(args.out_dir / f"{name}.md") as f:
            f.write("\n".join(table) + "\n")
        with atomic_write(args.out_dir / f"{name}.json") as f:
            json.dump({"args": {**asdict(args), "out_dir": str(args.out_dir)}, "machine": info,
                       "rows": rows}, f, indent=2)  # fmt: skip


if __name__ == "__main__":
    main(tyro.cli(Args))
