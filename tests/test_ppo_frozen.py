"""``--freeze-trm`` with cached trunk features: the update reads the rollout's features."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.callbacks import CallbackList

import envs  # noqa: F401
from trm_rl.model.config import TRMConfig
from trm_rl.policies.agent_file import read_agent_file, restore_agent
from trm_rl.policies.agents import build_agent
from trm_rl.policies.carry import CARRY_KEY, CarryMaskablePPO, TRMCarryPolicy
from trm_rl.policies.config import ppo_args, resolve_ppo
from trm_rl.policies.evaluate import agent_act
from trm_rl.policies.frozen import (
    FEATURES_KEY,
    FrozenCarryMaskablePPO,
    FrozenCarryPolicy,
    FrozenMaskablePPO,
    FrozenTRMPolicy,
)
from trm_rl.policies.train import load_agent, train_ppo
from trm_rl.policies.trm_policy import TRMPolicy
from trm_rl.policies.vec_env import make_sb3_vec_env

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MAZE = "trm_rl/Maze-5x5-v0"
SUDOKU = "trm_rl/Sudoku-4x4-v0"
#: The heads a frozen TRM policy trains (state-dict prefixes).
HEADS = ("value_net.", "mlp_extractor.move_head.", "mlp_extractor.path_scale",
         "mlp_extractor.model.lm_head.", "mlp_extractor.model.q_head.")  # fmt: skip


def small(env_id: str, carry: bool) -> dict:
    """A small TRM for the env (conv mixer for mazes, sequence MLP for 4x4 Sudoku)."""
    if env_id == MAZE:
        base = TRMConfig.preset("cpu-maze-conv").replace(seq_len=25, grid_width=5)
    else:
        base = TRMConfig.preset("cpu-sudoku-4x4")
    return base.replace(hidden_size=16, num_heads=2, H_cycles=1 if carry else 2).to_dict()


def frozen_agent(env_id: str, carry: bool = False, frozen: bool = True, **kwargs):
    """A frozen-TRM agent: the cached-feature one, or (``frozen=False``) the plain policy with
    ``freeze_trm=True``, which recomputes the trunk in the update. Same seed, same weights."""
    venv = make_sb3_vec_env(env_id, 4, seed=0)
    policy_kwargs = {"model": small(env_id, carry), "freeze_trm": True}
    settings = dict(n_steps=16, batch_size=32, n_epochs=1, seed=0, device="cpu")
    settings.update(kwargs)
    if carry:
        algo, policy = (FrozenCarryMaskablePPO, FrozenCarryPolicy) if frozen else (
            CarryMaskablePPO, TRMCarryPolicy)  # fmt: skip
    else:
        algo, policy = (FrozenMaskablePPO, FrozenTRMPolicy) if frozen else (MaskablePPO, TRMPolicy)
    return algo(policy, venv, policy_kwargs=policy_kwargs, **settings)


def fill_buffer(agent) -> None:
    """Collect one rollout into the agent's buffer (as learn() does before its update)."""
    agent._setup_learn(agent.n_steps * agent.n_envs, None)
    callback = CallbackList([])
    callback.init_callback(agent)
    assert agent.collect_rollouts(agent.env, callback, agent.rollout_buffer, agent.n_steps)


def trunk_calls(policy) -> list[int]:
    """A counter of the TRM trunk's network calls (embeddings and reasoning network)."""
    calls = [0]

    def count(*_) -> None:
        calls[0] += 1

    for module in (policy.trm.embed_tokens, policy.trm.net):
        module.register_forward_pre_hook(count)
    return calls


def without(obs: dict, *keys: str) -> dict:
    return {k: v for k, v in obs.items() if k not in keys}


@pytest.mark.parametrize("carry", [False, True], ids=["trm", "trm-carry"])
@pytest.mark.parametrize("env_id", [MAZE, SUDOKU])
def test_cached_features_give_the_recomputed_log_probs_and_values(env_id: str, carry: bool):
    agent = frozen_agent(env_id, carry)
    fill_buffer(agent)
    policy = agent.policy
    data = next(agent.rollout_buffer.get(None))
    actions, masks = data.actions.long().flatten(), data.action_masks
    assert data.observations[FEATURES_KEY].shape == (64, *policy.feature_shape())
    policy.set_training_mode(True)
    with torch.no_grad():
        cached = policy.evaluate_actions(data.observations, actions, masks)
        recomputed = policy.evaluate_actions(
            without(data.observations, FEATURES_KEY), actions, masks
        )
        plain = frozen_agent(env_id, carry, frozen=False).policy  # freeze_trm=True, recomputes
        plain.load_state_dict(policy.state_dict())
        plain.set_training_mode(True)
        reference = plain.evaluate_actions(without(data.observations, FEATURES_KEY), actions, masks)
    tight = dict(rtol=1e-5, atol=1e-6)
    for other in (recomputed, reference):
        for a, b in zip(cached, other, strict=True):
            torch.testing.assert_close(a, b, **tight)
    torch.testing.assert_close(cached[1], data.old_log_prob, **tight)  # what the rollout saw
    torch.testing.assert_close(cached[0].flatten(), data.old_values, **tight)


@pytest.mark.parametrize("carry", [False, True], ids=["trm", "trm-carry"])
def test_the_update_runs_the_heads_only_and_the_rollout_the_trunk_once_a_step(carry: bool):
    agent = frozen_agent(MAZE, carry)
    policy = agent.policy
    calls = trunk_calls(policy)
    trunk = policy.trunk
    trunk_runs = [0]

    def counted(*args, **kwargs):
        trunk_runs[0] += 1
        return trunk(*args, **kwargs)

    policy.trunk = counted  # trm: each rollout step; both: what a buffer's cache miss runs
    fill_buffer(agent)
    assert calls[0] > 0  # the hooks see the rollout's thinking
    assert trunk_runs[0] == (0 if carry else agent.n_steps)  # the buffer never recomputes
    calls[0] = 0
    agent.n_epochs = 3
    agent.train()
    assert calls[0] == 0
    assert trunk_runs[0] == (0 if carry else agent.n_steps)


@pytest.mark.parametrize("carry", [False, True], ids=["trm", "trm-carry"])
def test_learn_moves_the_heads_and_leaves_the_trunk(carry: bool) -> None:
    agent = frozen_agent(MAZE, carry)
    before = {k: v.clone() for k, v in agent.policy.state_dict().items()}
    agent.learn(128)
    after = agent.policy.state_dict()
    changed = {k for k, v in after.items() if not torch.equal(before[k], v)}
    assert changed and all(k.startswith(HEADS) for k in changed)
    assert {"mlp_extractor.model.lm_head.weight", "value_net.weight"} <= changed
    trunk = [k for k in after if not k.startswith(HEADS)]
    assert trunk and all(torch.equal(before[k], after[k]) for k in trunk)


def test_an_update_raises_the_log_prob_of_positively_advantaged_actions() -> None:
    agent = frozen_agent(SUDOKU, learning_rate=1e-3, normalize_advantage=False, n_epochs=1)
    fill_buffer(agent)
    buffer = agent.rollout_buffer
    rng = np.random.default_rng(0)
    positive = rng.random(buffer.advantages.shape) < 0.5  # (n_steps, n_envs), before flattening
    buffer.advantages[:] = positive.astype(np.float32)  # +1 there, 0 elsewhere
    data = next(buffer.get(None))
    actions = data.actions.long().flatten()
    chosen = data.advantages > 0
    assert 0 < int(chosen.sum()) < len(chosen)
    policy = agent.policy
    with torch.no_grad():
        before = policy.evaluate_actions(data.observations, actions, data.action_masks)[1]
    agent.train()
    with torch.no_grad():
        after = policy.evaluate_actions(data.observations, actions, data.action_masks)[1]
    assert (after - before)[chosen].mean() > 0


def test_frozen_policies_refuse_to_train_the_trunk() -> None:
    venv = make_sb3_vec_env(MAZE, 1, seed=0)
    for policy in (FrozenTRMPolicy, FrozenCarryPolicy):
        with pytest.raises(ValueError, match="freeze_trm=True"):
            policy(venv.observation_space, venv.action_space, lambda _: 1e-4,
                   model=small(MAZE, False), freeze_trm=False)  # fmt: skip


def test_train_ppo_freeze_trm_uses_the_cache_and_loads_like_an_older_run(tmp_path: Path) -> None:
    out = tmp_path / "frozen"
    args = ppo_args(
        SUDOKU, out=out, timesteps=128, progress=False, tensorboard=False, freeze_trm=True,
        model_set=("hidden_size=16", "num_heads=2"), val_episodes=8, test_episodes=16,
        ppo=dict(n_envs=4, n_steps=16, batch_size=32, n_epochs=1),
    )  # fmt: skip
    cfg = resolve_ppo(args)
    train_ppo(cfg)
    assert json.loads((out / "config.json").read_text())["algorithm"] == "FrozenMaskablePPO"
    loaded = load_agent(out, device="cpu")
    assert isinstance(loaded, FrozenMaskablePPO) and isinstance(loaded.policy, FrozenTRMPolicy)

    # a run saved before the cache (MaskablePPO + TRMPolicy(freeze_trm=True)) has the same
    # weights and optimizer layout: the file restores into either, strictly
    agent_file = read_agent_file(out / "agent.zip")
    venv = make_sb3_vec_env(SUDOKU, 8, seed=5)
    older = MaskablePPO(
        TRMPolicy, venv, policy_kwargs={"model": cfg.model.to_dict(), "freeze_trm": True},
        device="cpu", **cfg.ppo.sb3_kwargs(),
    )  # fmt: skip
    restore_agent(older, agent_file)
    rebuilt, _ = build_agent(cfg, venv, torch.device("cpu"))
    restore_agent(rebuilt, read_agent_file(out / "agent.zip"))

    obs = venv.reset()
    masks = np.stack(venv.env_method("action_masks"))
    actions = loaded.predict(obs, deterministic=True, action_masks=masks)[0]
    np.testing.assert_array_equal(
        actions, older.predict(obs, deterministic=True, action_masks=masks)[0]
    )
    np.testing.assert_array_equal(
        actions, rebuilt.predict(obs, deterministic=True, action_masks=masks)[0]
    )
    starts = np.ones(len(masks), dtype=bool)
    np.testing.assert_array_equal(actions, agent_act(loaded)(obs, masks, starts))
    assert all(masks[i, a] for i, a in enumerate(actions))


def test_build_agent_picks_the_cached_variants_for_freeze_trm(tmp_path: Path) -> None:
    venv = make_sb3_vec_env(MAZE, 2, seed=0)
    for policy, algo in (("trm", FrozenMaskablePPO), ("trm-carry", FrozenCarryMaskablePPO)):
        cfg = resolve_ppo(
            ppo_args(MAZE, out=tmp_path / policy, policy=policy, freeze_trm=True, timesteps=1,
                     model_set=("hidden_size=16", "num_heads=2"))
        )  # fmt: skip
        agent, info = build_agent(cfg, venv, torch.device("cpu"))
        assert isinstance(agent, algo) and info["algorithm"] == algo.__name__
        assert CARRY_KEY not in agent.rollout_buffer.observations


def test_frozen_carry_with_act_thinking_trains_its_halting_head() -> None:
    """--freeze-trm --think-rounds: the halting pass reads the rollout's env observations (the
    buffer also holds cached trunk features, which are not an observation) and moves the
    halting head; the trunk stays."""
    venv = make_sb3_vec_env(MAZE, 4, seed=0)
    policy_kwargs = {"model": small(MAZE, True), "freeze_trm": True, "think_rounds": 3}
    agent = FrozenCarryMaskablePPO(FrozenCarryPolicy, venv, policy_kwargs=policy_kwargs,
                                   n_steps=16, batch_size=32, n_epochs=1, seed=0, device="cpu")  # fmt: skip
    agent.policy.reset_halting_head()
    before = {k: v.clone() for k, v in agent.policy.state_dict().items()}
    agent.learn(128)
    after = agent.policy.state_dict()
    changed = {k for k, v in after.items() if not torch.equal(before[k], v)}
    assert any(k.startswith("mlp_extractor.model.q_head.") for k in changed)
    assert all(k.startswith(HEADS) for k in changed)
