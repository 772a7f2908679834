"""The deep-supervision trainer (the official ``pretrain.py`` loop, on any device).

Every optimiser step is one supervision step of the whole batch: rows that halted take a new
training example, the others keep working on theirs from the carried (detached) latents; the
ACT loss (stablemax CE + 0.5 BCE of q_halt against exact correctness) is back-propagated for
every row at every step; then the learning rate is set from the schedule, gradients are clipped,
the optimiser steps and the EMA follows. Run as one process, or as several with ``torchrun``
(gloo on CPU, nccl on GPU): every rank draws the same global stream of examples and takes its
own rows of it, so N processes train exactly what one process trains at the same global batch.

Read top to bottom: seed -> data -> model -> optimiser -> (resume) -> loop -> save.
"""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from trm_rl import runs
from trm_rl.model.checkpoint import save_checkpoint
from trm_rl.model.losses import act_loss
from trm_rl.model.trm import InnerCarry, TRMCarry
from trm_rl.supervised import state as run_state
from trm_rl.supervised.config import OptimConfig, TrainConfig, stored_train_config
from trm_rl.supervised.evaluate import evaluate_model
from trm_rl.supervised.metrics import VAL_KEYS, MetricsLog
from trm_rl.supervised.models import build_data, build_run_model
from trm_rl.supervised.optim import EMA, AdamAtan2, cosine_lr, lr_at
from trm_rl.supervised.warm_start import load_init_weights
from trm_rl.tracking import check_wandb, open_wandb
from trm_rl.utils import resolve_device


def _dist_info() -> tuple[int, int]:
    """(rank, world size); initialises the process group when launched by torchrun."""
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        if not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            dist.init_process_group(backend)
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


#: The dense optimisers, by :attr:`OptimConfig.optimizer`.
OPTIMIZERS: dict[str, type] = {"adamw": torch.optim.AdamW, "adam-atan2": AdamAtan2}


def build_optimizer(optim: OptimConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    """The dense optimiser of a model: AdamW or Adam-atan2 with decoupled weight decay."""
    params = [p for p in model.parameters() if p.requires_grad]
    return OPTIMIZERS[optim.optimizer](
        params, lr=optim.lr, betas=(optim.beta1, optim.beta2), weight_decay=optim.weight_decay
    )


def steps_done(run_dir: Path) -> int:
    """Optimiser steps a run has checkpointed (0 without a checkpoint).

    :raises ValueError: for an unreadable training state.
    """
    folder = run_state.latest_checkpoint(Path(run_dir))
    if folder is None:
        return 0
    return int(run_state.load_train_state(folder, 0, torch.device("cpu"))["step"])


def train(cfg: TrainConfig) -> Path:
    """Train (or resume) a run; returns the run directory.

    :raises ValueError: for a run directory that already holds a run (without ``--resume``), a
        resume whose options differ from the run's, or bad data/model options.
    """
    check_wandb(cfg.wandb)
    rank, world = _dist_info()
    device = resolve_device(cfg.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
    if cfg.threads is not None or (world > 1 and device.type == "cpu"):
        torch.set_num_threads(cfg.threads or 1)
    run_dir = Path(cfg.out)

    # -- resume or fresh --------------------------------------------------------------------
    checkpoint = run_state.latest_checkpoint(run_dir)
    runs.check_fresh(run_dir, cfg.resume, checkpoint is not None)
    if cfg.resume:
        stored = stored_train_config(runs.read_config(run_dir, "supervised"))
        runs.check_resume(stored.to_dict(), cfg.to_dict(), "supervised")

    # -- seed -> data -> model ----------------------------------------------------------------
    torch.manual_seed(cfg.seed)
    data, data_config = build_data(cfg)
    model = build_run_model(cfg)
    if cfg.init_from is not None and not cfg.resume:  # a resume reads its own checkpoint
        load_init_weights(model, cfg.init_from)
    model.to(device)
    eval_model = copy.deepcopy(model)  # holds the EMA weights for evaluation (eager)
    if cfg.compile:
        model.compile_network()
    torch.manual_seed(cfg.seed + 1000 * rank + 1)  # exploration draws, per rank
    optim = cfg.optim
    batch_size = optim.batch_size
    if batch_size % world:
        raise ValueError(f"batch_size {batch_size} must be divisible by the {world} processes")
    local = batch_size // world
    lr, wd, warmup, min_ratio = optim.lr, optim.weight_decay, optim.warmup_steps, optim.lr_min_ratio
    optimiser = build_optimizer(optim, model)
    ema = EMA(model, optim.ema_decay) if optim.ema else None
    # Every process draws the same global stream and takes its own rows of each batch (see
    # _next_batch), so N processes train exactly what one process trains.
    sampler = data.train_sampler(seed=cfg.seed)
    val_inputs, val_labels = data.split("val")
    if cfg.eval_size is not None:
        val_inputs, val_labels = val_inputs[: cfg.eval_size], val_labels[: cfg.eval_size]

    resolved = {
        "kind": data.kind,
        "world_size": world,
        "parameters": model.num_parameters(),
    }
    step, examples, train_time = 0, 0, 0.0
    eval_time = 0.0  # wall seconds spent validating (rank 0), kept apart from train_time
    carry = None
    if cfg.resume and checkpoint is not None:
        saved = run_state.load_train_state(checkpoint, rank, device)
        if cfg.steps is not None:
            runs.refuse_finished(saved["step"] >= cfg.steps, f"{cfg.steps} steps")
        model.load_state_dict(saved["model"])
        optimiser.load_state_dict(saved["optimizer"])
        if ema is not None:
            ema.load_state_dict(saved["ema"])
        sampler.load_state_dict(saved["sampler"])
        torch.set_rng_state(saved["torch_rng"].cpu())
        step, examples, train_time = saved["step"], saved["examples"], saved["train_time"]
        eval_time = float(saved.get("eval_time", 0.0))  # absent from older checkpoints
        if rank == 0:
            run_state.drop_snapshots_after(run_dir, step)
        carry = _carry_from(saved["carry"], model, device)
    elif rank == 0:
        runs.write_config(
            run_dir, "supervised", cfg.to_dict(), data=data_config,
            model=model.config.to_dict(), resolved=resolved,
        )  # fmt: skip
    wandb = open_wandb(rank == 0 and cfg.wandb, run_dir, cfg.to_dict(),
                       cfg.wandb_project, "supervised")  # fmt: skip
    log = MetricsLog(run_dir, cfg.tensorboard, resume_step=step if cfg.resume else None,
                     wandb=wandb)  # fmt: skip
    if rank == 0 and not cfg.resume:
        log.hparams({**runs.flatten(cfg.to_dict()), **resolved})

    budget_s = None if cfg.minutes is None else cfg.minutes * 60
    total_steps = cfg.steps
    eval_every = cfg.eval_every
    max_steps = getattr(model.config, "halt_max_steps", 1)

    def progress_fraction() -> float:
        if total_steps is not None:
            return step / total_steps
        return train_time / budget_s  # type: ignore[operator]

    def done() -> bool:
        return progress_fraction() >= 1.0

    def evaluate() -> dict[str, float]:
        source = model
        if ema is not None:
            eval_model.load_state_dict(model.state_dict())
            ema.copy_to(eval_model)
            source = eval_model
        result = evaluate_model(
            source, val_inputs, val_labels, data.kind, data.grid_shape, max_steps, device,
            target=data.config.maze_target,
        )  # fmt: skip
        model.train()
        return {f"val/{k}": v for k, v in result.items() if f"val/{k}" in VAL_KEYS}

    def eval_weights() -> torch.nn.Module:
        if ema is None:
            return model
        eval_model.load_state_dict(model.state_dict())
        ema.copy_to(eval_model)
        return eval_model

    def save() -> None:
        weights = eval_weights()

        def write(folder: Path) -> None:
            if rank == 0:
                save_checkpoint(weights, folder)
            run_state.save_train_state(
                folder,
                rank,
                {
                    "model": model.state_dict(),
                    "optimizer": optimiser.state_dict(),
                    "ema": ema.state_dict() if ema is not None else {},
                    "sampler": sampler.state_dict(),
                    "torch_rng": torch.get_rng_state(),
                    "step": step,
                    "examples": examples,
                    "train_time": train_time,
                    "eval_time": eval_time,
                    "carry": _carry_to(carry),
                },
            )

        if world == 1:
            run_state.save_checkpoint_folder(run_dir, write)
            return
        # Every rank writes its state into one staging folder, then rank 0 swaps it in.
        tmp = run_state.staging_folder(run_dir, create=rank == 0)
        dist.barrier()
        write(tmp)
        dist.barrier()
        if rank == 0:
            run_state.swap_in(run_dir, tmp)
        dist.barrier()

    # -- the loop -----------------------------------------------------------------------------
    model.train()
    bar = runs.RunProgress("train", cfg.progress and rank == 0)
    sums: dict[str, float] = {}
    last_eval_time, last_save = train_time, time.monotonic()
    window_start, window_examples = train_time, examples
    while not done():
        t0 = time.perf_counter()
        batch, carry, started = _next_batch(
            carry, model, sampler, data.seq_len, local, rank, world, device
        )
        examples += started
        carry, outputs = model(carry, batch)
        out = act_loss(outputs, carry, loss_type=optim.loss, halt_loss=_uses_halting(model))
        (out.loss / batch_size).backward()
        if world > 1:
            for p in model.parameters():
                if p.grad is not None:
                    dist.all_reduce(p.grad)
        if optim.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), optim.grad_clip)
        if total_steps is not None:
            current_lr = lr_at(step, lr, warmup, total_steps, min_ratio)
        elif step < warmup:
            current_lr = lr * (step + 1) / warmup
        else:  # a time budget: the cosine follows the elapsed fraction of the budget
            current_lr = cosine_lr(lr, min_ratio, progress_fraction())
        for group in optimiser.param_groups:
            group["lr"] = current_lr
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)
        _puzzle_embedding_step(model, current_lr, wd, world)
        if ema is not None:
            ema.update(model)
        _accumulate(sums, out, world)
        step += 1
        train_time += time.perf_counter() - t0
        bar.update(progress_fraction(), f"step {step}")

        due = (eval_every is not None and step % eval_every == 0) or (
            eval_every is None and train_time - last_eval_time >= 20.0
        )
        if due or done():
            row = _train_row(sums, step, train_time, examples, current_lr)
            row["samples_per_s"] = (examples - window_examples) / max(
                train_time - window_start, 1e-9
            )
            if rank == 0:
                t_eval = time.perf_counter()
                row.update(evaluate())
                eval_time += time.perf_counter() - t_eval
                row.update(_time_row(train_time, eval_time))
                log.log(row)
                bar.log(_note(row))
            sums.clear()
            last_eval_time, window_start, window_examples = train_time, train_time, examples
        if rank == 0 and cfg.keep_every and (step % cfg.keep_every == 0 or done()):
            run_state.keep_snapshot(run_dir, step, eval_weights())
        if done() or time.monotonic() - last_save >= cfg.checkpoint_seconds:
            save()
            last_save = time.monotonic()
    bar.close()
    log.close()
    if world > 1:
        dist.barrier()
    return run_dir


def _puzzle_embedding_step(model: torch.nn.Module, lr: float, wd: float, world: int) -> None:
    """The official SignSGD update of the puzzle-embedding rows used this step (a buffer, not
    in the dense optimiser), with the dense learning rate and weight decay as in the official
    Sudoku/Maze recipes; across processes the per-id gradients are summed first."""
    table = getattr(model, "puzzle_emb", None)
    if table is None:
        return
    found = table.sparse_grad()
    if found is None:
        return
    if world == 1:
        table.sign_sgd_step(lr, wd)
        return
    ids, grad = found
    dense = torch.zeros_like(table.weight)
    dense.index_add_(0, ids, grad)
    dist.all_reduce(dense)
    touched = dense.abs().sum(1) > 0
    with torch.no_grad():
        table.weight[touched] = table.weight[touched] * (1 - lr * wd) - lr * dense[touched].sign()
    table.local_weight = None


def _uses_halting(model: torch.nn.Module) -> bool:
    return bool(getattr(model.config, "act", False))


def _next_batch(carry, model, sampler, seq: int, local: int, rank: int, world: int, device):
    """The batch of this step: fresh examples for the rows that halted, placeholders elsewhere
    (the model keeps the examples of rows that did not halt).

    :return: the batch, the carry (a fresh one on the first step) and the number of examples
        started this step over all processes.
    """
    halted = torch.ones(local, dtype=torch.bool, device=device) if carry is None else carry.halted
    if world > 1:
        gathered = [torch.zeros_like(halted) for _ in range(world)]
        dist.all_gather(gathered, halted)
        global_halted = torch.cat(gathered).cpu().numpy()
    else:
        global_halted = halted.cpu().numpy()
    count = int(global_halted.sum())
    inputs = np.zeros((local, seq), dtype=np.int64)
    labels = np.zeros((local, seq), dtype=np.int64)
    if count:
        new_inputs, new_labels = sampler.sample(count)
        order = np.cumsum(global_halted) - 1  # index into the new examples, per global row
        mine = np.arange(rank * local, (rank + 1) * local)
        rows = np.flatnonzero(global_halted[mine])
        inputs[rows] = new_inputs[order[mine[rows]]]
        labels[rows] = new_labels[order[mine[rows]]]
    batch = {
        "inputs": torch.as_tensor(inputs, device=device),
        "labels": torch.as_tensor(labels, device=device),
    }
    if carry is None:
        carry = model.initial_carry(batch)
    return batch, carry, count


def _accumulate(sums: dict[str, float], out, world: int) -> None:
    values = torch.stack(
        [
            out.loss.detach().float(),
            out.lm_loss.detach().float(),
            out.q_halt_loss.detach().float(),
            out.metrics["count"].float(),
            out.metrics["accuracy"].float(),
            out.metrics["exact_accuracy"].float(),
            out.metrics["q_halt_accuracy"].float(),
            out.metrics["steps"].float(),
            torch.tensor(float(out.predictions.shape[0]), device=out.loss.device),
        ]
    )
    if world > 1:
        dist.all_reduce(values)
    names = ("loss", "lm_loss", "q_halt_loss", "count", "acc", "exact", "q_acc", "steps", "rows")
    for name, v in zip(names, values.tolist(), strict=True):
        sums[name] = sums.get(name, 0.0) + v


def _train_row(sums: dict[str, float], step: int, time_s: float, examples: int, lr: float):
    rows, count = max(sums.get("rows", 0.0), 1.0), sums.get("count", 0.0)
    per = (lambda k: sums.get(k, 0.0) / count) if count else (lambda k: float("nan"))
    return {
        "step": step,
        "time_s": time_s,
        "examples": examples,
        "lr": lr,
        "train/loss": sums.get("loss", 0.0) / rows,
        "train/lm_loss": sums.get("lm_loss", 0.0) / rows,
        "train/q_halt_loss": sums.get("q_halt_loss", 0.0) / rows,
        "train/token_accuracy": per("acc"),
        "train/exact_accuracy": per("exact"),
        "train/q_halt_accuracy": per("q_acc"),
        "train/steps": per("steps"),
    }


def _time_row(train_s: float, eval_s: float) -> dict[str, float]:
    """The validation wall time so far and its share of training + validation, as PPO logs it
    (``RunCallback._record_times`` of :mod:`trm_rl.policies.train`)."""
    total = train_s + eval_s
    return {
        "time/eval_minutes": eval_s / 60.0,
        "time/eval_fraction": eval_s / total if total > 0 else 0.0,
    }


def _carry_to(carry) -> dict[str, Any]:
    return {
        "z_H": carry.inner.z_H,
        "z_L": carry.inner.z_L,
        "steps": carry.steps,
        "halted": carry.halted,
        "current_data": dict(carry.current_data),
    }


def _carry_from(saved: dict[str, Any], model, device):
    return TRMCarry(
        inner=InnerCarry(saved["z_H"].to(device), saved["z_L"].to(device)),
        steps=saved["steps"].to(device),
        halted=saved["halted"].to(device),
        current_data={k: v.to(device) for k, v in saved["current_data"].items()},
    )


def _note(row: dict[str, Any]) -> str:
    text = f"step {row['step']}  loss {row['train/loss']:.3f}"
    val = row.get("val/exact_accuracy")
    return text if val is None else text + f"  val exact {val:.3f}"
