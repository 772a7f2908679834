"""Build the SB3 agent of a PPO run: the env, the policy and its size-matched baselines.

- ``trm`` / ``trm-h1l1``: ``MaskablePPO`` with :class:`~trm_rl.policies.trm_policy.TRMPolicy`;
- ``trm-carry``: :class:`~trm_rl.policies.carry.CarryMaskablePPO` with
  :class:`~trm_rl.policies.carry.TRMCarryPolicy` (one round per env step unless
  ``--model-set H_cycles=...`` says otherwise);
- ``mlp`` / ``conv``: ``MaskablePPO("MultiInputPolicy")`` with the one-hot MLP or the residual
  conv extractor of :mod:`baselines.policies`, matched in parameters to the TRM policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib import MaskablePPO

from trm_rl.model.config import TRMConfig
from trm_rl.policies.carry import CarryMaskablePPO, TRMCarryPolicy
from trm_rl.policies.config import PPOConfig, PPORecipe, recipe_for
from trm_rl.policies.trm_policy import TRMPolicy, grid_space, infer_game
from trm_rl.supervised.config import parse_overrides

#: Algorithm classes by name (config.json stores the name; nothing else is looked up).
ALGORITHMS: dict[str, type] = {"MaskablePPO": MaskablePPO, "CarryMaskablePPO": CarryMaskablePPO}


def env_spaces(env_id: str, env_kwargs: dict[str, Any]) -> tuple[gym.Space, gym.Space]:
    """Observation and action space of one ``gym.make(env_id, **env_kwargs)`` env."""
    import envs  # noqa: F401  (registers the ids)

    if env_id not in gym.registry:
        known = sorted(k for k in gym.registry if k.startswith("trm_rl/"))
        raise ValueError(f"unknown env id {env_id!r}; use one of {known}")
    env = gym.make(env_id, **env_kwargs)
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


def game_of(env_id: str, env_kwargs: dict[str, Any] | None = None) -> str:
    """``"maze"`` or ``"sudoku"`` for a registered trm_rl env id."""
    obs_space, act_space = env_spaces(env_id, env_kwargs or {})
    return infer_game(obs_space, act_space)


def resolved_options(cfg: PPOConfig, game: str) -> tuple[PPORecipe, dict[str, Any]]:
    """The recipe and the PPO keyword arguments of a run (config fields win over the recipe)."""
    recipe = recipe_for(cfg.env, game)

    def pick(name: str) -> Any:
        value = getattr(cfg, name)
        return getattr(recipe, name) if value is None else value

    ppo = {
        "n_steps": pick("n_steps"),
        "batch_size": pick("batch_size"),
        "n_epochs": pick("n_epochs"),
        "learning_rate": (
            recipe.init_learning_rate
            if cfg.learning_rate is None
            and cfg.init_from is not None
            and recipe.init_learning_rate is not None
            else pick("learning_rate")
        ),
        "gamma": pick("gamma"),
        "ent_coef": pick("ent_coef"),
        "gae_lambda": cfg.gae_lambda,
        "clip_range": cfg.clip_range,
        "vf_coef": cfg.vf_coef,
        "max_grad_norm": cfg.max_grad_norm,
        "target_kl": cfg.target_kl,
    }
    return recipe, ppo


def env_kwargs_of(cfg: PPOConfig, recipe: PPORecipe) -> dict[str, Any]:
    """Env constructor arguments: the recipe's, then ``--env-set``."""
    return {**recipe.env_set, **parse_overrides(cfg.env_set, "--env-set")}


def trm_config(
    cfg: PPOConfig, recipe: PPORecipe, game: str, grid_shape: tuple[int, int]
) -> TRMConfig:
    """The policy's TRM config: the preset fitted to the env's grid, the policy's cycles, then
    ``--model-set``. With ``--init-from`` the supervised run's config is the base instead."""
    rows, cols = grid_shape
    if cfg.init_from is not None:
        from trm_rl.model.checkpoint import load_config
        from trm_rl.supervised import state as run_state

        folder = run_state.latest_checkpoint(Path(cfg.init_from))
        if folder is None:
            raise ValueError(
                f"--init-from {str(cfg.init_from)!r} has no checkpoint; pass the --out folder of "
                "a finished trm-rl train-supervised run"
            )
        base = load_config(folder)
        if not isinstance(base, TRMConfig):
            raise ValueError(
                f"--init-from {str(cfg.init_from)!r} holds a {type(base).__name__}; only TRM runs "
                "can initialise a TRM policy"
            )
    else:
        base = TRMConfig.preset(cfg.preset or recipe.preset)
    vocab = 6 if game == "maze" else rows + 2
    fit: dict[str, Any] = {"seq_len": rows * cols}
    if cfg.init_from is None:
        fit["vocab_size"] = vocab
    elif base.vocab_size < vocab:
        raise ValueError(
            f"the supervised run's vocab_size={base.vocab_size} cannot hold this env's tokens "
            f"({vocab}); initialise from a run on the same game and board size"
        )
    if base.mixer == "conv":
        fit["grid_width"] = cols
    elif cfg.init_from is not None and base.seq_len != rows * cols:
        raise ValueError(
            f"the supervised run is a {base.mixer} TRM for {base.seq_len} cells, this env has "
            f"{rows}x{cols}; only mixer='conv' runs transfer across grid sizes"
        )
    if cfg.policy == "trm-h1l1":
        fit.update(H_cycles=1, L_cycles=1)
    elif cfg.policy == "trm-carry":
        fit["H_cycles"] = 1
    overrides = parse_overrides(cfg.model_set, "--model-set")
    return base.replace(**{**recipe.model_set, **fit, **overrides})


def build_agent(
    cfg: PPOConfig, venv: Any, recipe: PPORecipe, ppo_kwargs: dict[str, Any], device: torch.device
) -> tuple[Any, dict[str, Any]]:
    """A fresh agent for the run and a description (algorithm, parameter counts, configs).

    :return: ``(agent, info)``; ``info["algorithm"]`` names the class in :data:`ALGORITHMS`.
    """
    obs_space, act_space = venv.observation_space, venv.action_space
    game = infer_game(obs_space, act_space)
    grid = tuple(grid_space(obs_space).shape)
    model_cfg = trm_config(cfg, recipe, game, grid)  # type: ignore[arg-type]
    common = dict(ppo_kwargs, seed=cfg.seed, device=device, verbose=0)
    if cfg.policy in ("trm", "trm-h1l1"):
        kwargs = {
            "model": model_cfg.to_dict(),
            "think_steps": cfg.think_steps,
            "freeze_trm": cfg.freeze_trm,
        }
        agent = MaskablePPO(TRMPolicy, venv, policy_kwargs=kwargs, **common)
    elif cfg.policy == "trm-carry":
        kwargs = {
            "model": model_cfg.to_dict(),
            "think_steps": cfg.think_steps,
            "freeze_trm": cfg.freeze_trm,
            "state_dtype": cfg.state_dtype,
            "halt_max_steps": cfg.halt_max_steps,
        }
        agent = CarryMaskablePPO(TRMCarryPolicy, venv, policy_kwargs=kwargs, **common)
    else:
        from baselines.policies import matched_conv_policy_kwargs, matched_mlp_policy_kwargs

        target = trm_policy_params(model_cfg, obs_space, act_space)
        match = matched_mlp_policy_kwargs if cfg.policy == "mlp" else matched_conv_policy_kwargs
        kwargs = match(target, obs_space, act_space)
        agent = MaskablePPO("MultiInputPolicy", venv, policy_kwargs=kwargs, **common)
    if cfg.init_from is not None:
        if cfg.policy not in ("trm", "trm-carry"):
            raise ValueError("--init-from initialises TRM policies; use --policy trm or trm-carry")
        load_supervised_trm(agent.policy.trm, Path(cfg.init_from))
    if cfg.halt_max_steps is not None:  # the halting head learns its own target from zero
        agent.policy.reset_halting_head()
    info = {
        "algorithm": type(agent).__name__,
        "game": game,
        "parameters": sum(p.numel() for p in agent.policy.parameters()),
        "model": model_cfg.to_dict() if cfg.policy.startswith("trm") else None,
        "policy_kwargs": _jsonable(kwargs),
    }
    return agent, info


def trm_policy_params(model_cfg: TRMConfig, obs_space: Any, act_space: Any) -> int:
    """Parameters of a TRM policy (TRM + value head) for these spaces: the baselines' target."""
    policy = TRMPolicy(obs_space, act_space, lambda _: 1e-4, model=model_cfg)
    return sum(p.numel() for p in policy.parameters())


def load_supervised_trm(trm: torch.nn.Module, run_dir: Path) -> None:
    """Copy the evaluated (EMA) weights of a supervised run into a policy's TRM.

    :raises ValueError: when the run is missing or its weights do not fit (another preset).
    """
    from trm_rl.supervised.commands import load_run

    model, _ = load_run(run_dir, device="cpu")
    source = model.state_dict()
    target = trm.state_dict()
    problems = [k for k in target if k not in source or source[k].shape != target[k].shape]
    if problems:
        raise ValueError(
            f"the supervised run {str(run_dir)!r} does not fit the policy's TRM (mismatched: "
            f"{problems[:5]}); train the policy with the run's preset or drop --init-from"
        )
    trm.load_state_dict({k: source[k] for k in target})


def supervised_heldout_solutions(run_dir: str | Path) -> np.ndarray | None:
    """The Sudoku solutions a supervised run never trained on: ``(K, N, N)`` digit grids, the
    solutions of its validation and test puzzles (for 4x4: its held-out solution grids), so a
    PPO run initialised from it can be evaluated on puzzles with those solutions only.

    :return: the grids, or None for a maze run (generated maze streams are endless; evaluate a
        policy initialised from one on another maze size, or accept that a repeat of one of
        millions of random mazes is improbable).
    """
    from trm_rl.data.build import make_data
    from trm_rl.data.config import DataConfig
    from trm_rl.supervised import state as run_state

    data_cfg = DataConfig(**run_state.read_run_config(Path(run_dir))["data"])
    data = make_data(data_cfg)
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
    "build_agent",
    "env_kwargs_of",
    "env_spaces",
    "game_of",
    "load_supervised_trm",
    "resolved_options",
    "supervised_heldout_solutions",
    "trm_config",
    "trm_policy_params",
]
