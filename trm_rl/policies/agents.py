"""Build the SB3 agent of a PPO run from its :class:`~trm_rl.policies.config.PPOConfig`.

- ``trm``: ``MaskablePPO`` with :class:`~trm_rl.policies.trm_policy.TRMPolicy`;
- ``trm-carry``: :class:`~trm_rl.policies.carry.CarryMaskablePPO` with
  :class:`~trm_rl.policies.carry.TRMCarryPolicy`;
- either with ``--freeze-trm``: the frozen variants of :mod:`trm_rl.policies.frozen`, whose
  buffers keep the rollout's trunk features so that the update runs the heads only (same
  weights and ``state_dict`` as the plain policies with ``freeze_trm=True``);
- ``mlp`` / ``convnet``: ``MaskablePPO("MultiInputPolicy")`` with the one-hot MLP or the residual
  conv extractor of :mod:`trm_rl.policies.baselines`, matched in parameters to the TRM policy.

Each kind is one entry of :data:`POLICY_BUILDERS`; ``config.json`` names the kind, and a run is
rebuilt from it (never from pickled objects).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sb3_contrib import MaskablePPO

from trm_rl.data.build import make_data
from trm_rl.data.config import DataConfig
from trm_rl.model.config import TRMConfig
from trm_rl.policies.baselines import matched_conv_policy_kwargs, matched_mlp_policy_kwargs
from trm_rl.policies.carry import CarryMaskablePPO, TRMCarryPolicy
from trm_rl.policies.config import PPOConfig
from trm_rl.policies.frozen import (
    FrozenCarryMaskablePPO,
    FrozenCarryPolicy,
    FrozenMaskablePPO,
    FrozenTRMPolicy,
)
from trm_rl.policies.trm_policy import TRMPolicy
from trm_rl.pretrained import card
from trm_rl.runs import read_config
from trm_rl.supervised.warm_start import load_init_weights, shipped_init

#: Algorithm classes by name (config.json stores the name; nothing else is looked up).
ALGORITHMS: dict[str, type] = {
    "MaskablePPO": MaskablePPO,
    "CarryMaskablePPO": CarryMaskablePPO,
    "FrozenMaskablePPO": FrozenMaskablePPO,
    "FrozenCarryMaskablePPO": FrozenCarryMaskablePPO,
}


def _trm_kwargs(cfg: PPOConfig, space: Any) -> tuple[type, Any, dict[str, Any]]:
    del space
    kwargs = {"model": cfg.model.to_dict(), "think_steps": cfg.think_steps,
              "freeze_trm": cfg.freeze_trm}  # fmt: skip
    if cfg.freeze_trm:  # the update reads the rollout's trunk features
        return FrozenMaskablePPO, FrozenTRMPolicy, kwargs
    return MaskablePPO, TRMPolicy, kwargs


def _carry_kwargs(cfg: PPOConfig, space: Any) -> tuple[type, Any, dict[str, Any]]:
    _, _, kwargs = _trm_kwargs(cfg, space)
    kwargs.update(state_dtype=cfg.state_dtype, think_rounds=cfg.think_rounds)
    if cfg.freeze_trm:
        return FrozenCarryMaskablePPO, FrozenCarryPolicy, kwargs
    return CarryMaskablePPO, TRMCarryPolicy, kwargs


def _matched(match: Callable[..., dict[str, Any]]) -> Callable[..., tuple[type, Any, dict]]:
    def build(cfg: PPOConfig, spaces: Any) -> tuple[type, Any, dict[str, Any]]:
        obs_space, act_space = spaces
        target = trm_policy_params(cfg.model, obs_space, act_space)
        return MaskablePPO, "MultiInputPolicy", match(target, obs_space, act_space)

    return build


#: policy kind -> (algorithm class, policy class, policy kwargs) for a config and its spaces.
POLICY_BUILDERS: dict[str, Callable[..., tuple[type, Any, dict[str, Any]]]] = {
    "trm": _trm_kwargs,
    "trm-carry": _carry_kwargs,
    "mlp": _matched(matched_mlp_policy_kwargs),
    "convnet": _matched(matched_conv_policy_kwargs),
}


def build_agent(cfg: PPOConfig, venv: Any, device: torch.device) -> tuple[Any, dict[str, Any]]:
    """A fresh agent for the run (with ``--init-from`` weights) and its description.

    :return: ``(agent, info)``; ``info["algorithm"]`` names the class in :data:`ALGORITHMS`.
    """
    spaces = (venv.observation_space, venv.action_space)
    algorithm, policy, kwargs = POLICY_BUILDERS[cfg.policy](cfg, spaces)
    agent = algorithm(
        policy, venv, policy_kwargs=kwargs, seed=cfg.seed, device=device, verbose=0,
        **cfg.ppo.sb3_kwargs(),
    )  # fmt: skip
    if cfg.init_from is not None:
        load_supervised_trm(agent.policy.trm, Path(cfg.init_from))
    if cfg.think_rounds is not None:  # the halting head learns its own target from zero
        agent.policy.reset_halting_head()
    info = {
        "algorithm": algorithm.__name__,
        "game": cfg.game,
        "parameters": sum(p.numel() for p in agent.policy.parameters()),
        "policy_kwargs": _jsonable(kwargs),
    }
    return agent, info


def trm_policy_params(model_cfg: TRMConfig, obs_space: Any, act_space: Any) -> int:
    """Parameters of a TRM policy (TRM + value head) for these spaces: the baselines' target."""
    policy = TRMPolicy(obs_space, act_space, lambda _: 1e-4, model=model_cfg)
    return sum(p.numel() for p in policy.parameters())


def load_supervised_trm(trm: torch.nn.Module, run_dir: Path) -> None:
    """Copy the evaluated (EMA) weights of a supervised run (or a shipped model, by name) into a
    policy's TRM.

    :raises ValueError: when the run is missing or its weights do not fit (another preset).
    """
    load_init_weights(trm, run_dir, "the policy's TRM")


def supervised_heldout_solutions(run_dir: str | Path) -> np.ndarray | None:
    """The Sudoku solutions a supervised run never trained on: ``(K, N, N)`` digit grids, the
    solutions of its validation and test puzzles (for 4x4: its held-out solution grids), so a
    PPO run initialised from it can be evaluated on puzzles with those solutions only.

    :return: the grids, or None for a maze run (generated maze streams are endless; evaluate a
        policy initialised from one on another maze size, or accept that a repeat of one of
        millions of random mazes is improbable).
    """
    name = shipped_init(run_dir)
    fields = card(name)["data"] if name else read_config(Path(run_dir), "supervised")["data"]
    data = make_data(DataConfig.from_dict(fields))
    if data.kind != "sudoku":
        return None
    labels = np.concatenate([data.split("val")[1], data.split("test")[1]])
    side = data.grid_shape[0]
    digits = labels.astype(np.int64) - 1  # Sudoku tokens: digit d is d + 1
    return np.unique(digits.astype(np.uint8), axis=0).reshape(-1, side, side)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return getattr(value, "__name__", repr(value))


__all__ = [
    "ALGORITHMS",
    "POLICY_BUILDERS",
    "build_agent",
    "load_supervised_trm",
    "supervised_heldout_solutions",
    "trm_policy_params",
]
