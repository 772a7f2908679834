"""One PPO update moves every policy kind the way its advantages say.

For each policy kind and game: collect one rollout, overwrite the buffer's advantages with +1
on a chosen half of the (step, env) entries and -1 on the other half, run one ``train()`` and
check, with ``policy.evaluate_actions`` on the stored observations and actions:

- the mean log-probability of the +1 actions rose and that of the -1 actions fell;
- the same update from the same weights with the signs flipped moves both sets the other way
  (so the first check is not true of any update, and it can fail);
- the update's gradient reaches the actor: the action head (the TRM's ``lm_head``, and for
  mazes the move head and ``path_scale``; the baselines' ``action_net`` and policy layers) and
  the shared trunk, while the value head gets none (the value and entropy terms are switched
  off with ``vf_coef = ent_coef = 0``, so what moves the policy is the policy gradient alone);
- with all advantages 0 there is no policy gradient and nothing moves (the control that shows
  the gradient check can fail).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from trm_rl.policies.agents import build_agent
from trm_rl.policies.config import ppo_args, resolve_ppo
from trm_rl.policies.vec_env import make_sb3_vec_env

pytestmark = pytest.mark.usefixtures("one_torch_thread")

GAMES = ("trm_rl/Maze-5x5-v0", "trm_rl/Sudoku-4x4-v0")
KINDS = ("trm", "trm-carry", "mlp", "convnet")
N_ENVS, N_STEPS = 2, 8
#: PPO with one minibatch of the whole rollout and one epoch: train() takes exactly one step,
#: from ratio 1, of the policy-gradient term alone.
PPO = {"n_envs": N_ENVS, "n_steps": N_STEPS, "batch_size": N_ENVS * N_STEPS, "n_epochs": 1,
       "vf_coef": 0.0, "ent_coef": 0.0}  # fmt: skip


def hidden_size(env: str, kind: str) -> int:
    """16, except for the Sudoku conv baseline: no conv net comes within 5% of a 16-wide TRM
    policy's parameters there (its smallest has 12,700), so both are 32 wide."""
    return 32 if (env, kind) == ("trm_rl/Sudoku-4x4-v0", "convnet") else 16


def actor_parameters(env: str, kind: str) -> tuple[list[str], str]:
    """Names of the actor's own parameters and the prefix of the trunk it shares with the
    critic."""
    if kind.startswith("trm"):
        names = ["mlp_extractor.model.lm_head.weight"]
        if "Maze" in env:
            names += ["mlp_extractor.move_head.weight", "mlp_extractor.move_head.bias",
                      "mlp_extractor.path_scale"]  # fmt: skip
        return names, "mlp_extractor.model."
    names = ["action_net.weight", "action_net.bias", "mlp_extractor.policy_net.0.weight"]
    return names, "features_extractor." if kind == "convnet" else "mlp_extractor.policy_net."


def rollout_agent(env: str, kind: str, out: Path) -> Any:
    """A tiny agent of ``kind`` on ``env`` with one collected rollout in its buffer."""
    cfg = resolve_ppo(
        ppo_args(
            env, timesteps=N_ENVS * N_STEPS, policy=kind,
            model={"hidden_size": hidden_size(env, kind)}, ppo=PPO, progress=False, out=out,
        )
    )  # fmt: skip
    venv = make_sb3_vec_env(cfg.env.id, N_ENVS, seed=0, **cfg.env.kwargs)
    agent, _ = build_agent(cfg, venv, torch.device("cpu"))
    _, callback = agent._setup_learn(N_ENVS * N_STEPS, callback=None)
    callback.on_training_start(locals(), globals())
    assert agent.collect_rollouts(agent.env, callback, agent.rollout_buffer, N_STEPS)
    return agent


def set_advantages(agent: Any, signs: np.ndarray) -> Any:
    """Put ``signs`` ``(n_steps, n_envs)`` in the buffer's advantages; return every sample, in
    the flattened order ``train()`` reads them from."""
    buffer = agent.rollout_buffer
    assert buffer.advantages.shape == signs.shape and not buffer.generator_ready
    buffer.advantages[:] = signs
    return next(buffer.get(batch_size=None))


def log_probs(agent: Any, data: Any) -> torch.Tensor:
    """Log-probabilities of the stored actions under the current policy (masks applied)."""
    agent.policy.set_training_mode(False)
    with torch.no_grad():
        _, log_prob, _ = agent.policy.evaluate_actions(
            data.observations, data.actions.long().flatten(), action_masks=data.action_masks
        )
    return log_prob


def one_update(agent: Any, data: Any) -> tuple[torch.Tensor, dict[str, float]]:
    """Run ``train()`` once; the change of every stored action's log-probability and the
    gradient norm of every parameter (0 for none)."""
    before = log_probs(agent, data)
    agent.train()
    grads = {
        name: 0.0 if p.grad is None else float(p.grad.norm())
        for name, p in agent.policy.named_parameters()
    }
    return log_probs(agent, data) - before, grads


def chosen_signs() -> np.ndarray:
    """+1 on a checkerboard of (step, env) entries, -1 on the rest: half and half, so the
    per-minibatch normalisation of the advantages keeps every sign."""
    steps, envs = np.meshgrid(np.arange(N_STEPS), np.arange(N_ENVS), indexing="ij")
    return np.where((steps + envs) % 2 == 0, 1.0, -1.0).astype(np.float32)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("env", GAMES)
def test_one_update_follows_the_advantages(env: str, kind: str, tmp_path: Path) -> None:
    agent = rollout_agent(env, kind, tmp_path)
    data = set_advantages(agent, chosen_signs())
    positive = data.advantages > 0
    assert int(positive.sum()) == N_ENVS * N_STEPS // 2
    weights = copy.deepcopy(agent.policy.state_dict())
    optimizer = copy.deepcopy(agent.policy.optimizer.state_dict())

    change, grads = one_update(agent, data)
    assert change[positive].mean() > 0, f"+1 actions: mean log-prob change {change[positive]}"
    assert change[~positive].mean() < 0, f"-1 actions: mean log-prob change {change[~positive]}"
    own, trunk = actor_parameters(env, kind)
    for name in own:
        assert grads[name] > 0, f"no policy gradient reaches {name}"
    assert sum(g for n, g in grads.items() if n.startswith(trunk)) > 0, f"none reaches {trunk}*"
    assert grads["value_net.weight"] == 0.0  # vf_coef = 0: the policy term alone moved it

    # the same step from the same weights with the signs flipped goes the other way
    agent.policy.load_state_dict(weights)
    agent.policy.optimizer.load_state_dict(optimizer)
    agent.rollout_buffer.advantages *= -1.0  # already in train()'s flattened order
    flipped, _ = one_update(agent, data)
    assert flipped[positive].mean() < 0 and flipped[~positive].mean() > 0


@pytest.mark.parametrize("kind", ["trm", "mlp"])
@pytest.mark.parametrize("env", GAMES)
def test_zero_advantages_give_no_policy_gradient(env: str, kind: str, tmp_path: Path) -> None:
    agent = rollout_agent(env, kind, tmp_path)
    data = set_advantages(agent, np.zeros((N_STEPS, N_ENVS), dtype=np.float32))
    change, grads = one_update(agent, data)
    own, _ = actor_parameters(env, kind)
    assert all(grads[name] == 0.0 for name in own)
    assert torch.all(change == 0)
