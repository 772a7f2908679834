"""TRM policies under SB3 PPO / MaskablePPO: construction, learning signal, carry, save/load."""

from __future__ import annotations

import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.env_checker import check_env

import envs  # noqa: F401
from trm_rl.model.config import TRMConfig
from trm_rl.policies.carry import (
    CARRY_KEY,
    CarryMaskablePPO,
    TRMCarryPolicy,
    halt_threshold_logit,
)
from trm_rl.policies.evaluate import agent_act
from trm_rl.policies.trm_policy import TRMPolicy
from trm_rl.policies.vec_env import make_sb3_vec_env

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MAZE = "trm_rl/Maze-5x5-v0"
SUDOKU = "trm_rl/Sudoku-4x4-v0"


def small(env_id: str, **changes) -> dict:
    """A small TRM config for the env (conv mixer for mazes, sequence MLP for 4x4 Sudoku)."""
    if env_id == MAZE:
        base = TRMConfig.preset("cpu-maze-conv").replace(seq_len=25, grid_width=5)
    else:
        base = TRMConfig.preset("cpu-sudoku-4x4")
    return base.replace(hidden_size=16, num_heads=2, **changes).to_dict()


def agent_for(
    env_id: str,
    carry: bool = False,
    n_envs: int = 4,
    seed: int = 0,
    policy_extra: dict | None = None,
    **kwargs,
):
    venv = make_sb3_vec_env(env_id, n_envs, seed=seed)
    policy_kwargs = {"model": small(env_id, H_cycles=1 if carry else 2), **(policy_extra or {})}
    common = dict(n_steps=16, batch_size=32, n_epochs=1, seed=seed, device="cpu", **kwargs)
    if carry:
        return CarryMaskablePPO(TRMCarryPolicy, venv, policy_kwargs=policy_kwargs, **common)
    return MaskablePPO(TRMPolicy, venv, policy_kwargs=policy_kwargs, **common)


def fill_buffer(agent) -> None:
    """Collect one rollout into the agent's buffer (as learn() does before its update)."""
    agent._setup_learn(agent.n_steps * agent.n_envs, None)
    callback = CallbackList([])
    callback.init_callback(agent)
    assert agent.collect_rollouts(agent.env, callback, agent.rollout_buffer, agent.n_steps)


@pytest.mark.parametrize("env_id", [MAZE, SUDOKU, "trm_rl/Maze-9x9-v0", "trm_rl/Sudoku-9x9-v0"])
def test_sb3_check_env_passes_on_the_envs_ppo_trains_on(env_id: str) -> None:
    check_env(gym.make(env_id).unwrapped, warn=True, skip_render_check=True)


@pytest.mark.parametrize("env_id", [MAZE, SUDOKU])
@pytest.mark.parametrize("algo", ["MaskablePPO", "PPO", "CarryMaskablePPO"])
def test_learn_smoke_every_trm_policy_and_algorithm(env_id: str, algo: str) -> None:
    venv = make_sb3_vec_env(env_id, 4, seed=0)
    common = dict(n_steps=16, batch_size=32, n_epochs=1, seed=0, device="cpu")
    if algo == "CarryMaskablePPO":
        agent = CarryMaskablePPO(
            TRMCarryPolicy, venv, policy_kwargs={"model": small(env_id, H_cycles=1)}, **common
        )
    else:
        cls = MaskablePPO if algo == "MaskablePPO" else PPO
        agent = cls(TRMPolicy, venv, policy_kwargs={"model": small(env_id)}, **common)
    agent.learn(256)
    assert agent.num_timesteps >= 256


@pytest.mark.parametrize("carry", [False, True])
def test_one_update_moves_the_actor_through_a_nonzero_policy_gradient(carry: bool) -> None:
    agent = agent_for(SUDOKU, carry=carry)
    fill_buffer(agent)
    policy = agent.policy
    data = next(agent.rollout_buffer.get(64))
    policy.set_training_mode(True)
    _, log_prob, _ = policy.evaluate_actions(
        data.observations, data.actions.long().flatten(), action_masks=data.action_masks
    )
    advantages = data.advantages
    assert advantages.abs().sum() > 0
    (-(advantages * log_prob).mean()).backward()
    lm_grad = policy.trm.lm_head.weight.grad
    net_grads = [p.grad for p in policy.trm.net.parameters()]
    assert lm_grad is not None and lm_grad.abs().sum() > 0
    assert any(g is not None and g.abs().sum() > 0 for g in net_grads)
    policy.optimizer.zero_grad()

    obs = data.observations
    with torch.no_grad():
        before = policy.evaluate_actions(obs, data.actions.long().flatten(), data.action_masks)[1]
    agent.train()
    with torch.no_grad():
        after = policy.evaluate_actions(obs, data.actions.long().flatten(), data.action_masks)[1]
    assert not torch.allclose(before, after)


THINKING = {
    "one round": {},
    "three rounds": {"think_steps": 3},
    "ACT, up to 4": {"think_rounds": 4},
}


@pytest.mark.parametrize("thinking", list(THINKING))
@pytest.mark.parametrize("env_id", [MAZE, SUDOKU])
def test_recomputed_log_probs_equal_the_rollouts_before_the_first_step(
    env_id: str, thinking: str
) -> None:
    agent = agent_for(env_id, carry=True, policy_extra=THINKING[thinking])
    if thinking.startswith("ACT"):  # a halting head that stops some rows early, not others
        with torch.no_grad():
            agent.policy.trm.q_head.weight.normal_(0.0, 0.5)
            agent.policy.trm.q_head.bias.zero_()
    fill_buffer(agent)
    seen = 0
    for data in agent.rollout_buffer.get(24):
        assert CARRY_KEY in data.observations
        with torch.no_grad():
            values, log_prob, _ = agent.policy.evaluate_actions(
                data.observations, data.actions.long().flatten(), data.action_masks
            )
        torch.testing.assert_close(log_prob, data.old_log_prob, rtol=0, atol=1e-5)
        torch.testing.assert_close(values.flatten(), data.old_values, rtol=0, atol=1e-5)
        seen += len(log_prob)
    assert seen == agent.n_steps * agent.n_envs


def test_act_thinking_stops_where_the_halting_head_says_and_not_past_the_cap() -> None:
    agent = agent_for(MAZE, carry=True, policy_extra={"think_rounds": 5})
    policy = agent.policy
    tokens = torch.as_tensor(agent.env.reset()["grid"]).long()
    start = policy.initial_state(len(tokens))
    head = policy.trm.q_head
    with torch.no_grad():
        head.bias.fill_(-5.0)  # the initial "keep thinking"
        *_, rounds = policy.think(tokens, start)
        assert rounds.tolist() == [5] * len(tokens)
        head.bias.fill_(5.0)  # "halt now": one round
        last_start, _, _, rounds = policy.think(tokens, start)
        assert rounds.tolist() == [1] * len(tokens) and torch.equal(last_start, start)
        *_, rounds = policy.think(tokens, start, adaptive=False)  # full thinking
        assert rounds.tolist() == [5] * len(tokens)
        head.bias.fill_(-5.0)
        explored = torch.cat([policy.think(tokens, start, explore=True)[3] for _ in range(60)])
    assert explored.min() >= 1 and explored.max() <= 5 and (explored < 5).any()  # exploration


def test_a_higher_halting_threshold_thinks_longer() -> None:
    """Rows stop once sigmoid(q_halt) exceeds the threshold: 0.5 is q_halt > 0 exactly."""
    agent = agent_for(MAZE, carry=True, policy_extra={"think_rounds": 4})
    policy = agent.policy
    tokens = torch.as_tensor(agent.env.reset()["grid"]).long()
    start = policy.initial_state(len(tokens))
    with torch.no_grad():
        policy.trm.q_head.weight.zero_()
        policy.trm.q_head.bias.fill_(1.0)  # sigmoid(1) = 0.73 at every round
        rounds = {}
        for threshold in (0.5, 0.7, 0.75, 0.9):
            policy.halt_threshold = threshold
            rounds[threshold] = policy.think(tokens, start)[3].tolist()
    assert rounds == {0.5: [1] * 4, 0.7: [1] * 4, 0.75: [4] * 4, 0.9: [4] * 4}
    assert halt_threshold_logit(0.5) == 0.0
    assert halt_threshold_logit(0.9) == pytest.approx(math.log(9.0))
    for bad in (0.0, 1.0, -1, "x"):
        with pytest.raises(ValueError, match="halt threshold must be in"):
            halt_threshold_logit(bad)
    policy.halt_threshold = 0.5
    # agent_act sets the threshold for its own steps only and counts the rounds.
    act = agent_act(agent, halt_threshold=0.9)
    obs = agent.env.reset()
    masks = np.ones((4, 4), dtype=bool)
    act(obs, masks, np.ones(4, dtype=bool))
    assert act.think_steps == [16, 4] and policy.halt_threshold == 0.5
    plain = agent_for(MAZE, carry=False)
    with pytest.raises(ValueError, match="needs a trm-carry policy with ACT"):
        agent_act(plain, halt_threshold=0.9)


def test_halting_by_confidence_stops_each_row_once_its_action_is_sure() -> None:
    """halt_by="confidence": a row stops after the first round whose most likely legal action
    has probability >= the threshold (the halting head is not asked, nor trained)."""
    agent = agent_for(MAZE, carry=True, policy_extra={"think_rounds": 4, "halt_by": "confidence"})
    policy = agent.policy
    tokens = torch.as_tensor(agent.env.reset()["grid"]).long()
    start = policy.initial_state(len(tokens))
    masks = torch.ones(len(tokens), 4, dtype=torch.bool)
    with torch.no_grad():
        policy.trm.q_head.bias.fill_(-50.0)  # the head says "think on": it must not matter
        # the expected rounds, one round at a time by hand
        sure, state = [], start
        for _ in range(4):
            z_H, state = policy.body.think(tokens, state, steps=1)
            sure.append(policy._greedy_logits(tokens, z_H, masks).softmax(-1).amax(-1))
        sure = torch.stack(sure, dim=1)  # [B, rounds]
        for threshold in (0.26, float(sure.median()), 0.999999):
            policy.halt_threshold = threshold
            hit = sure >= threshold
            want = torch.where(
                hit.any(1), hit.int().argmax(1) + 1, torch.full_like(hit[:, 0], 4, dtype=torch.long)
            )
            got = policy.think(tokens, start, action_masks=masks)[3]
            assert got.tolist() == want.tolist(), threshold
        one = torch.zeros_like(masks)
        one[:, 0] = True  # one legal action: probability 1 after the first round
        assert policy.think(tokens, start, action_masks=one)[3].tolist() == [1] * len(tokens)
    policy.halt_threshold = 0.5
    # the head is left alone by training; agent_act switches the criterion for its own steps
    head = policy.trm.q_head.weight.detach().clone()
    agent.learn(64)
    assert torch.equal(policy.trm.q_head.weight, head)
    other = agent_for(MAZE, carry=True, policy_extra={"think_rounds": 4})
    act = agent_act(other, halt_by="confidence", halt_threshold=0.999999)
    act(agent.env.reset(), np.ones((4, 4), dtype=bool), np.ones(4, dtype=bool))
    assert other.policy.halt_by == "head" and other.policy.halt_threshold == 0.5
    # on mazes the rounds are also counted by the agent cell's legal moves
    act = agent_act(other, halt_by="confidence", halt_threshold=0.999999)
    masks = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 0, 0]], dtype=bool)
    act(agent.env.reset(), masks, np.ones(4, dtype=bool))
    assert act.think_by_moves == {1: [1, 1], 2: [8, 2], 3: [4, 1]}  # one legal move: sure
    with pytest.raises(ValueError, match="halt_by must be one of"):
        agent_act(other, halt_by="entropy")
    with pytest.raises(ValueError, match="halt_by must be one of"):
        agent_for(MAZE, carry=True, policy_extra={"think_rounds": 4, "halt_by": "entropy"})


def test_halting_head_learns_its_target_and_nothing_else_moves() -> None:
    agent = agent_for(SUDOKU, carry=True, policy_extra={"think_rounds": 3})
    fill_buffer(agent)
    head = agent.policy.trm.q_head
    others = {k: v.clone() for k, v in agent.policy.state_dict().items() if "q_head" not in k}
    before = head.weight.detach().clone()
    agent._train_halting()
    assert not torch.equal(head.weight, before)
    after = agent.policy.state_dict()
    assert all(torch.equal(after[k], v) for k, v in others.items())
    assert all(p.grad is None for p in head.parameters())  # nothing left for PPO's optimiser
    data = next(agent.rollout_buffer.get(64))
    logits, target = agent.policy.halting_batch(data.observations, data.action_masks)
    assert logits.requires_grad and set(target.unique().tolist()) <= {0.0, 1.0}


def test_act_thinking_learns_and_logs_thinking_steps(tmp_path: Path) -> None:
    from stable_baselines3.common.logger import configure

    agent = agent_for(MAZE, carry=True, policy_extra={"think_rounds": 3})
    agent.set_logger(configure(str(tmp_path), ["csv"]))
    agent.learn(128)
    rows = (tmp_path / "progress.csv").read_text().splitlines()
    header = rows[0].split(",")
    values = dict(zip(header, rows[-1].split(","), strict=True))
    assert 1.0 <= float(values["rollout/think_steps"]) <= 3.0
    assert 0.0 <= float(values["train/halt_target_rate"]) <= 1.0
    assert float(values["train/halt_loss"]) > 0.0


@pytest.mark.parametrize("carry", [False, True])
def test_freeze_trm_trains_only_the_heads_and_survives_save_load(carry: bool, tmp_path) -> None:
    agent = agent_for(MAZE, carry=carry, policy_extra={"freeze_trm": True})
    before = {k: v.clone() for k, v in agent.policy.state_dict().items()}
    agent.learn(64)
    changed = {k for k, v in agent.policy.state_dict().items() if not torch.equal(before[k], v)}
    heads = ("value_net.", "mlp_extractor.move_head.", "mlp_extractor.path_scale",
             "mlp_extractor.model.lm_head.")  # fmt: skip
    assert changed and all(k.startswith(heads) for k in changed)
    assert any(k.startswith("mlp_extractor.model.lm_head.") for k in changed)
    agent.save(tmp_path / "frozen")
    loaded = type(agent).load(tmp_path / "frozen", device="cpu")
    assert loaded.policy.freeze_trm
    assert not any(p.requires_grad for p in loaded.policy.trm.net.parameters())


def test_carry_buffer_stores_bf16_start_states_that_reset_at_episode_starts() -> None:
    agent = agent_for(SUDOKU, carry=True)
    fill_buffer(agent)
    buffer = agent.rollout_buffer
    assert buffer.states.dtype == torch.bfloat16
    init = agent.policy.initial_state(1)[0]
    starts = buffer.episode_starts.astype(bool)  # (n_steps, n_envs), before flattening
    assert starts[0].all() and starts[1:].any()
    for t, e in zip(*np.nonzero(starts), strict=True):
        assert torch.equal(buffer.states[t, e], init)
    later = np.argwhere(~starts)
    t, e = later[0]
    assert not torch.equal(buffer.states[t, e], init)  # the carry moved on within the episode


def test_carry_predict_takes_and_returns_the_state_like_recurrent_ppo() -> None:
    agent = agent_for(MAZE, carry=True)
    env = gym.make(MAZE)
    obs, _ = env.reset(seed=3)
    action, state = agent.predict(obs, deterministic=True)
    assert np.ndim(action) == 0 and state.shape == (1, *agent.policy.state_shape())
    _, state2 = agent.predict(obs, state=state, episode_start=np.array([False]), deterministic=True)
    assert not np.array_equal(state, state2)
    _, fresh = agent.predict(obs, state=state2, episode_start=np.array([True]), deterministic=True)
    np.testing.assert_array_equal(fresh, state)  # a reset starts from H_init/L_init again
    with pytest.raises(ValueError, match="state has shape"):
        agent.predict(obs, state=np.zeros((2, 3)), deterministic=True)


@pytest.mark.parametrize("carry", [False, True])
def test_save_load_gives_identical_deterministic_actions(carry: bool, tmp_path: Path) -> None:
    agent = agent_for(MAZE, carry=carry)
    agent.learn(64)
    agent.save(tmp_path / "agent.zip")
    cls = CarryMaskablePPO if carry else MaskablePPO
    loaded = cls.load(tmp_path / "agent.zip", device="cpu")
    venv = make_sb3_vec_env(MAZE, 8, seed=5)
    obs = venv.reset()
    masks = np.stack(venv.env_method("action_masks"))
    a1, s1 = agent.predict(obs, deterministic=True, action_masks=masks)
    a2, s2 = loaded.predict(obs, deterministic=True, action_masks=masks)
    np.testing.assert_array_equal(a1, a2)
    if carry:
        np.testing.assert_array_equal(s1, s2)


@pytest.mark.parametrize("env_id", [MAZE, SUDOKU])
def test_masks_never_allow_an_illegal_action(env_id: str) -> None:
    agent = agent_for(env_id)
    venv = make_sb3_vec_env(env_id, 16, seed=1)
    obs = venv.reset()
    for _ in range(20):
        masks = np.stack(venv.env_method("action_masks")).astype(bool)
        actions, _ = agent.predict(obs, deterministic=False, action_masks=masks)
        assert masks[np.arange(len(actions)), actions].all()
        obs, _, _, _ = venv.step(actions)


def test_sudoku_actor_scores_cells_with_the_supervised_lm_head() -> None:
    agent = agent_for(SUDOKU)
    policy = agent.policy
    venv = make_sb3_vec_env(SUDOKU, 2, seed=0)
    obs = {k: torch.as_tensor(v) for k, v in venv.reset().items()}
    tokens = policy.extract_features(obs)
    with torch.no_grad():
        z_H, _ = policy.body.think(tokens)
        logits, _ = policy.body.heads(tokens, z_H)
        lm = policy.trm.lm_head(z_H[:, policy.trm.config.prefix_len :])
    # action cell * 4 + digit - 1 is token digit + 1 of that cell
    torch.testing.assert_close(logits.view(2, 16, 4), lm[..., 2:6])


def test_policy_refuses_configs_that_do_not_fit_the_env() -> None:
    venv = make_sb3_vec_env(SUDOKU, 2, seed=0)
    bad = TRMConfig.preset("cpu-sudoku-4x4").replace(seq_len=25)
    with pytest.raises(ValueError, match="seq_len"):
        MaskablePPO(TRMPolicy, venv, policy_kwargs={"model": bad.to_dict()})
    with pytest.raises(ValueError, match="policy_kwargs"):
        MaskablePPO(TRMPolicy, venv)
    with pytest.raises(ValueError, match="net_arch"):
        MaskablePPO(TRMPolicy, venv, policy_kwargs={"model": small(SUDOKU), "net_arch": [64]})
    with pytest.raises(ValueError, match="TRMCarryPolicy"):
        CarryMaskablePPO(TRMPolicy, venv, policy_kwargs={"model": small(SUDOKU)})
