"""FLOPs of training runs, estimated from their configs (no trained weights needed).

What is counted: the matrix products and convolutions that
:class:`torch.utils.flop_counter.FlopCounterMode` sees, 2 FLOPs a multiply-add, with the weight
gradient of a grouped convolution counted per group (:func:`conv_backward_flops`). Element-wise
work (norms, activations, softmax, the loss, the optimiser) is not counted; for these models it
is a small share. Models are built fresh from the config on the CPU in float32 (``bf16`` and
``compile`` change the speed, not the count), with one torch thread; the caller's torch threads
and random states are restored afterwards. Nothing is written to disk.

- :func:`supervised_step_flops`: one optimiser step of ``trm-rl train-supervised`` (forward and
  backward of one supervision step of the whole batch);
- :func:`supervised_inference_flops`: forward of one puzzle over ``steps`` supervision steps;
- :func:`ppo_env_step_flops`: one env step of ``trm-rl train-ppo`` (rollout forward plus
  ``n_epochs`` x forward and backward of the PPO loss on its sample);
- :func:`run_flops`: per-step FLOPs x steps of a run, cached per model and training setup;
  :func:`puzzle_flops`: :func:`supervised_inference_flops`, cached the same way.

    run_flops("supervised", resolve_train(train_args("sudoku-4x4", steps=2000)), 2000)
"""

from __future__ import annotations

import contextlib
import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from stable_baselines3.common.logger import Logger
from torch.utils.flop_counter import FlopCounterMode

from envs.utils import check_int
from trm_rl.model.losses import act_loss
from trm_rl.policies.agents import build_agent
from trm_rl.policies.carry import CARRY_KEY, TRMCarryPolicy
from trm_rl.policies.config import PPOConfig
from trm_rl.policies.vec_env import make_sb3_vec_env
from trm_rl.supervised.config import TrainConfig
from trm_rl.supervised.evaluate import predict
from trm_rl.supervised.models import build_data, build_run_model
from trm_rl.supervised.trainer import _next_batch, _uses_halting
from trm_rl.utils import set_seed

#: Config fields that do not change a run's per-step FLOPs; :func:`run_flops` caches without them.
CACHE_FREE = (
    "seed",
    "out",
    "minutes",
    "steps",
    "timesteps",
    "resume",
    "progress",
    "threads",
    "rollout_threads",
    "update_threads",
    "eval_every",
    "eval_every_s",
    "eval_every_steps",
    "eval_size",
    "keep_every",
    "checkpoint_seconds",
    "tensorboard",
    "wandb",
    "wandb_project",
)
#: Parallel envs and steps per env of the short PPO rollout that :func:`ppo_env_step_flops`
#: collects; FLOPs per env step do not depend on either.
COUNT_ENVS, COUNT_STEPS = 2, 4
_CACHE: dict[tuple[str, str], float] = {}


# ---------------------------------------------------------------------------------- counting
def conv_backward_flops(
    grad_out_shape: list[int],
    x_shape: list[int],
    w_shape: list[int],
    _bias: Any,
    _stride: Any,
    _padding: Any,
    _dilation: Any,
    transposed: bool,
    _output_padding: Any,
    _groups: int,
    output_mask: list[bool],
    **_kwargs: Any,
) -> int:
    """FLOPs of a convolution's backward: each gradient asked for (input, weight) costs what the
    forward does. torch's own formula counts the weight gradient of a grouped convolution as if
    it were ungrouped, ``groups`` times too many (64x for the TRM's depthwise 3x3 conv)."""
    positions = math.prod((x_shape if transposed else grad_out_shape)[2:])
    forward = 2 * x_shape[0] * positions * math.prod(w_shape)  # w: [out, in / groups, *k]
    return forward * (int(output_mask[0]) + int(output_mask[1]))


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of the matrix products and convolutions ``fn()`` runs (its backward included)."""
    mapping = {torch.ops.aten.convolution_backward: conv_backward_flops}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        fn()
    return counter.get_total_flops()


@contextlib.contextmanager
def _counting() -> Iterator[None]:
    """One torch thread and untouched random states (Python, NumPy, torch) for the caller."""
    threads = torch.get_num_threads()
    py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=cuda):
            yield
    finally:
        torch.set_num_threads(threads)
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002


# -------------------------------------------------------------------------------- supervised
def _supervised_setup(cfg: TrainConfig) -> tuple[Any, Any, Any, int]:
    """(model, data, training sampler, global batch size) built as the trainer builds them
    (in float32: bfloat16 changes no FLOP count)."""
    model_cfg = cfg.model.replace(forward_dtype="float32")
    cfg = replace(cfg, compile=False, model=model_cfg)
    torch.manual_seed(cfg.seed)
    data, _ = build_data(cfg)
    model = build_run_model(cfg)
    return model, data, data.train_sampler(seed=cfg.seed), cfg.optim.batch_size


def supervised_step_flops(cfg: TrainConfig) -> float:
    """FLOPs of one optimiser step of the supervised trainer (:mod:`trm_rl.supervised.trainer`):
    the forward of one supervision step of ``batch_size`` fresh puzzles (the TRM's no-grad
    rounds included) and the backward of its ACT loss, for the model ``cfg`` builds (TRM preset
    or baseline).

    :param cfg: the run's options (``device``, ``bf16`` and ``compile`` are ignored).
    """
    with _counting():
        model, data, sampler, batch_size = _supervised_setup(cfg)
        model.train()
        device = torch.device("cpu")
        batch, carry, _ = _next_batch(None, model, sampler, data.seq_len, batch_size, 0, 1, device)

        def step() -> None:
            new_carry, outputs = model(carry, batch)
            out = act_loss(
                outputs, new_carry, loss_type=cfg.optim.loss, halt_loss=_uses_halting(model)
            )
            (out.loss / batch_size).backward()

        return float(count_flops(step))


def supervised_inference_flops(cfg: TrainConfig, steps: int) -> float:
    """Forward FLOPs of answering one puzzle with ``steps`` supervision steps, as evaluation
    runs it (:func:`trm_rl.supervised.evaluate.predict`, no halting). One-shot baselines
    (``mlp``, ``conv``) predict once whatever ``steps`` says.

    :param cfg: the run's options (``device``, ``bf16`` and ``compile`` are ignored).
    :param steps: supervision steps (>= 1), e.g. the model's ``halt_max_steps``.
    :raises ValueError: for ``steps`` that is not an int >= 1.
    """
    check_int("steps", steps, low=1)
    with _counting():
        model, data, sampler, _ = _supervised_setup(cfg)
        model.eval()
        inputs, _ = sampler.sample(1)  # any puzzle: without halting the count does not vary
        device = torch.device("cpu")
        return float(count_flops(lambda: predict(model, inputs, data.grid_shape, steps, device)))


# ---------------------------------------------------------------------------------------- PPO
def ppo_loss(agent: Any, batch: Any) -> torch.Tensor:
    """MaskablePPO's loss on one minibatch: clipped surrogate, value error, entropy bonus."""
    values, log_prob, entropy = agent.policy.evaluate_actions(
        batch.observations, batch.actions.long().flatten(), action_masks=batch.action_masks
    )
    adv = batch.advantages
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    ratio = torch.exp(log_prob - batch.old_log_prob)
    clip = agent.clip_range(1.0)
    surrogate = -torch.min(adv * ratio, adv * ratio.clamp(1 - clip, 1 + clip)).mean()
    value = F.mse_loss(batch.returns, values.flatten())
    return surrogate + agent.vf_coef * value - agent.ent_coef * entropy.mean()


def agent_env_step_flops(agent: Any, batch: Any, n_epochs: int) -> dict[str, float]:
    """FLOPs per env step of a PPO agent whose rollout buffer holds a rollout.

    :param agent: a ``MaskablePPO`` (or ``CarryMaskablePPO``) after ``learn``.
    :param batch: a minibatch of its buffer (``next(agent.rollout_buffer.get(batch_size))``).
    :param n_epochs: passes over each rollout.
    :return: ``rollout_per_step`` (the rollout forward on ``n_envs`` observations over
        ``n_envs``; ``trm-carry`` steps its stored state), ``update_per_sample`` (forward and
        backward of :func:`ppo_loss` on ``batch`` over its rows) and ``per_env_step``
        (``rollout_per_step + n_epochs * update_per_sample``).
    """
    policy = agent.policy
    sample = next(agent.rollout_buffer.get(agent.n_envs))
    obs, masks = dict(sample.observations), sample.action_masks
    policy.set_training_mode(False)
    with torch.no_grad():
        if isinstance(policy, TRMCarryPolicy):  # its rollout steps the stored state
            state = obs.pop(CARRY_KEY)
            starts = torch.zeros(len(state), dtype=torch.bool, device=state.device)
            rollout = count_flops(lambda: policy.step_state(obs, state, starts, masks))
        else:
            rollout = count_flops(lambda: policy(obs, action_masks=masks))
    policy.set_training_mode(True)
    update = count_flops(lambda: ppo_loss(agent, batch).backward())
    policy.optimizer.zero_grad(set_to_none=True)
    per_rollout, per_sample = rollout / len(sample.actions), update / len(batch.actions)
    return {
        "rollout_per_step": per_rollout,
        "update_per_sample": per_sample,
        "per_env_step": per_rollout + n_epochs * per_sample,
    }


def ppo_env_step_flops(cfg: PPOConfig) -> float:
    """FLOPs per env step of PPO training (``trm-rl train-ppo``): the rollout forward of one
    observation plus ``n_epochs`` x the forward and backward of the PPO loss on one sample
    (:func:`agent_env_step_flops`), for the agent ``cfg`` builds. The agent collects one short
    rollout of :data:`COUNT_ENVS` x :data:`COUNT_STEPS` env steps first (the per-step count does
    not depend on ``n_envs``, ``n_steps`` or ``batch_size``).

    :param cfg: the run's options (``device`` and ``compile`` are ignored).
    """
    with _counting():
        n_envs = min(cfg.ppo.n_envs, COUNT_ENVS)
        n_steps = min(cfg.ppo.n_steps, COUNT_STEPS)
        batch_size = max(2, min(cfg.ppo.batch_size, n_envs * n_steps))
        ppo = replace(cfg.ppo, n_envs=n_envs, n_steps=n_steps, batch_size=batch_size)
        cfg = replace(cfg, ppo=ppo, init_from=None)
        venv = make_sb3_vec_env(cfg.env.id, n_envs, seed=cfg.seed, **cfg.env.kwargs)
        try:
            set_seed(cfg.seed)
            agent, _ = build_agent(cfg, venv, torch.device("cpu"))
            agent.set_logger(Logger(folder=None, output_formats=[]))  # else SB3 makes a folder
            agent.learn(n_envs * n_steps)
            batch = next(agent.rollout_buffer.get(agent.batch_size))
            return agent_env_step_flops(agent, batch, cfg.ppo.n_epochs)["per_env_step"]
        finally:
            venv.close()


# ---------------------------------------------------------------------------------------- runs
def _cache_key(regime: str, config: TrainConfig | PPOConfig) -> tuple[str, str]:
    fields = {k: v for k, v in config.to_dict().items() if k not in CACHE_FREE}
    return regime, json.dumps(fields, sort_keys=True, default=str)


def puzzle_flops(config: TrainConfig, steps: int) -> float:
    """:func:`supervised_inference_flops`, cached in this process like :func:`run_flops` (per
    config without :data:`CACHE_FREE` fields, and per ``steps``).

    :raises ValueError: for ``steps`` that is not an int >= 1.
    """
    check_int("steps", steps, low=1)
    key = _cache_key(f"inference-{steps}", config)
    if key not in _CACHE:
        _CACHE[key] = supervised_inference_flops(config, steps)
    return _CACHE[key]


def run_flops(regime: str, config: TrainConfig | PPOConfig, steps: int) -> float:
    """Estimated training FLOPs of a run: per-step FLOPs x ``steps``.

    The per-step count is cached in this process per config without :data:`CACHE_FREE` fields
    (the runs of a sweep that differ only in seed or budget share one count).

    :param regime: ``"supervised"`` (``config`` a :class:`TrainConfig`, ``steps`` optimiser
        steps, :func:`supervised_step_flops`) or ``"ppo"`` (``config`` a :class:`PPOConfig`,
        ``steps`` env timesteps, :func:`ppo_env_step_flops`).
    :param config: the run's options.
    :param steps: steps the run took (>= 0).
    :raises ValueError: for another regime, a config of the other regime or negative steps.
    """

    expected = {"supervised": TrainConfig, "ppo": PPOConfig}.get(regime)
    if expected is None:
        raise ValueError(f"regime must be 'supervised' or 'ppo', got {regime!r}")
    if not isinstance(config, expected):
        raise ValueError(
            f"regime {regime!r} takes a {expected.__name__}, got {type(config).__name__}"
        )
    check_int("steps", steps, low=0)
    key = _cache_key(regime, config)
    if key not in _CACHE:
        per_step = supervised_step_flops if regime == "supervised" else ppo_env_step_flops
        _CACHE[key] = per_step(config)  # type: ignore[arg-type]
    return _CACHE[key] * steps


__all__ = [
    "CACHE_FREE",
    "agent_env_step_flops",
    "conv_backward_flops",
    "count_flops",
    "ppo_env_step_flops",
    "ppo_loss",
    "puzzle_flops",
    "run_flops",
    "supervised_inference_flops",
    "supervised_step_flops",
]
