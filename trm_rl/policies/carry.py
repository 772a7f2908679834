"""``trm-carry``: a TRM policy whose latent state persists across env steps, with action masks.

Each env keeps its TRM state (``z_H``, ``z_L``) from one env step to the next, so the thinking
of earlier steps carries over and each step can run a single round (``H_cycles=1``). The state
is reset to ``H_init``/``L_init`` at every episode start and, as between deep-supervision steps,
it leaves each step detached.

Because the carry is detached, PPO needs no back-propagation through time: the rollout buffer
stores the state each step started from (in ``bfloat16`` by default, 2 bytes a value), and the
update recomputes that step's log-probabilities from it in ordinary shuffled minibatches, with
the action masks. The rollout uses the stored (rounded) state itself, so before the first
gradient step the recomputed log-probabilities equal the rollout's.

No public library has masked recurrent PPO; this is built on SB3's extension points:

- :class:`TRMCarryPolicy` (a :class:`~trm_rl.policies.trm_policy.TRMPolicy`) steps a given state
  and, in ``evaluate_actions``, reads the stored state from the observation dict (key
  :data:`CARRY_KEY`, put there by the buffer);
- :class:`CarryRolloutBuffer` (a ``MaskableDictRolloutBuffer``) also stores the states;
- :class:`CarryMaskablePPO` (a ``MaskablePPO``) threads the states through ``collect_rollouts``;
  its ``train`` is ``MaskablePPO.train`` unchanged.

``predict(obs, state, episode_start)`` takes and returns the state as ``RecurrentPPO`` does
(a numpy array ``[n_envs, 2, positions, hidden]``; ``None`` starts fresh).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.buffers import (
    MaskableDictRolloutBuffer,
    MaskableDictRolloutBufferSamples,
)
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv

from trm_rl.policies.trm_policy import TRMPolicy, grid_space

#: Observation-dict key under which minibatches carry the stored state to ``evaluate_actions``.
CARRY_KEY = "trm_carry"
#: Storage dtypes of the carried state.
STATE_DTYPES: dict[str, torch.dtype] = {
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
    "float32": torch.float32,
}


class TRMCarryPolicy(TRMPolicy):
    """A :class:`TRMPolicy` that starts every env step from the env's carried state.

    :param state_dtype: ``"bfloat16"`` (default), ``"float16"`` or ``"float32"``: how the state
        is kept between steps and stored for the update.
    :param kwargs: :class:`TRMPolicy` arguments (``model``, ``think_steps``, optimizer ...).
    """

    def __init__(self, *args: Any, state_dtype: str = "bfloat16", **kwargs: Any) -> None:
        if state_dtype not in STATE_DTYPES:
            raise ValueError(
                f"state_dtype must be one of {list(STATE_DTYPES)}, got {state_dtype!r}"
            )
        self.state_dtype_name = state_dtype
        super().__init__(*args, **kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "state_dtype": self.state_dtype_name}

    @property
    def state_dtype(self) -> torch.dtype:
        """The dtype the state is kept and stored in."""
        return STATE_DTYPES[self.state_dtype_name]

    def state_shape(self, grid_shape: tuple[int, int] | None = None) -> tuple[int, int, int]:
        """``(2, positions, hidden)`` of one env's state."""
        return self.body.state_shape(grid_shape)

    def initial_state(self, n_envs: int, grid_shape: tuple[int, int] | None = None) -> torch.Tensor:
        """``[n_envs, 2, positions, hidden]`` at ``H_init``/``L_init``, in the storage dtype."""
        with torch.no_grad():
            return self.body.initial_state(n_envs, grid_shape, dtype=self.state_dtype)

    # ------------------------------------------------------------------------------ stepping
    def step_state(
        self,
        obs: dict[str, torch.Tensor],
        state: torch.Tensor,
        episode_start: torch.Tensor,
        action_masks: np.ndarray | torch.Tensor | None = None,
        deterministic: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One env step from the carried state.

        :param obs: observation tensors (``grid`` ``[B, rows, cols]``, ...).
        :param state: ``[B, 2, positions, hidden]`` carried from the previous step.
        :param episode_start: ``[B]`` bool; those rows restart from the initial state.
        :param action_masks: ``[B, n_actions]`` legal actions (None: all).
        :return: ``(actions, values, log_probs, start_state, next_state)``; ``start_state`` is
            what the buffer stores (the update recomputes the step from it), both states in the
            storage dtype.
        """
        tokens = self.extract_features(obs)
        grid = tuple(tokens.shape[1:])
        start = self.body.reset_state(state.to(self.state_dtype), episode_start, grid)  # type: ignore[arg-type]
        logits, latent_vf, next_state = self.latents(tokens, start)
        distribution = self._get_action_dist_from_latent(logits)
        if action_masks is not None:
            distribution.apply_masking(action_masks)
        actions = distribution.get_actions(deterministic=deterministic)
        values = self.value_net(latent_vf)
        return (
            actions,
            values,
            distribution.log_prob(actions),
            start,
            next_state.to(self.state_dtype),
        )

    def predict_values_state(
        self, obs: dict[str, torch.Tensor], state: torch.Tensor
    ) -> torch.Tensor:
        """Values ``[B, 1]`` of observations from the given (already reset) states."""
        tokens = self.extract_features(obs)
        _, latent_vf, _ = self.latents(tokens, state)
        return self.value_net(latent_vf)

    def evaluate_actions(  # type: ignore[override]
        self,
        obs: dict[str, torch.Tensor],
        actions: torch.Tensor,
        action_masks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Values, log-probabilities and entropies of ``actions``, each step recomputed from
        the state it started from (``obs[CARRY_KEY]``, put there by :class:`CarryRolloutBuffer`).
        """
        if CARRY_KEY not in obs:
            raise ValueError(
                "TRMCarryPolicy.evaluate_actions needs the stored start states under "
                f"obs[{CARRY_KEY!r}]; train it with CarryMaskablePPO, whose buffer stores them"
            )
        obs = dict(obs)
        state = obs.pop(CARRY_KEY)
        tokens = self.extract_features(obs)
        logits, latent_vf, _ = self.latents(tokens, state)
        distribution = self._get_action_dist_from_latent(logits)
        if action_masks is not None:
            distribution.apply_masking(action_masks)
        return self.value_net(latent_vf), distribution.log_prob(actions), distribution.entropy()

    def predict(  # type: ignore[override]
        self,
        observation: dict[str, np.ndarray],
        state: np.ndarray | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Actions and the next state, as ``RecurrentPPO.predict`` does.

        :param observation: one env's observation (unbatched) or a batch of them.
        :param state: the state returned by the previous call (``[B, 2, positions, hidden]``);
            None starts every env fresh.
        :param episode_start: ``[B]`` bool, True where an episode begins (the state resets).
        :param deterministic: greedy actions instead of samples.
        :param action_masks: ``[B, n_actions]`` (or ``[n_actions]``) legal actions.
        :return: ``(actions, next_state)``; pass ``next_state`` back on the next call.
        """
        self.set_training_mode(False)
        obs_tensor, vectorized = self.obs_to_tensor(observation)
        batch = next(iter(obs_tensor.values())).shape[0]  # type: ignore[union-attr]
        grid = tuple(obs_tensor["grid"].shape[1:])  # type: ignore[index,call-overload]
        if state is None:
            state_t = self.initial_state(batch, grid)  # type: ignore[arg-type]
        else:
            state_t = torch.as_tensor(np.asarray(state), device=self.device).to(self.state_dtype)
            expected = (batch, *self.state_shape(grid))  # type: ignore[arg-type]
            if tuple(state_t.shape) != expected:
                raise ValueError(
                    f"state has shape {list(state_t.shape)} but {batch} observation(s) of this "
                    f"grid need {list(expected)}; pass the state returned by the previous "
                    "predict() call, or None to start fresh"
                )
        starts = np.zeros(batch, dtype=bool) if episode_start is None else episode_start
        starts_t = torch.as_tensor(
            np.asarray(starts, dtype=bool).reshape(batch), device=self.device
        )
        masks = None if action_masks is None else np.asarray(action_masks).reshape(batch, -1)
        with torch.no_grad():
            actions, _, _, _, next_state = self.step_state(
                obs_tensor,  # type: ignore[arg-type]
                state_t,
                starts_t,
                masks,
                deterministic,
            )
        actions_np = actions.cpu().numpy().reshape((-1, *self.action_space.shape))  # type: ignore[misc]
        if not vectorized:
            actions_np = actions_np.squeeze(axis=0)
        return actions_np, next_state.float().cpu().numpy()


class CarryRolloutBuffer(MaskableDictRolloutBuffer):
    """A ``MaskableDictRolloutBuffer`` that also stores each step's start state.

    :param state_shape: ``(2, positions, hidden)`` of one env's state.
    :param state_dtype: storage dtype (``torch.bfloat16`` by default in the policy).
    :param args: the parent's arguments (buffer size, spaces, device, ...).
    """

    def __init__(
        self,
        *args: Any,
        state_shape: tuple[int, ...],
        state_dtype: torch.dtype,
        **kwargs: Any,
    ) -> None:
        self.state_shape = tuple(state_shape)
        self.state_dtype = state_dtype
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        shape = (self.buffer_size, self.n_envs, *self.state_shape)
        self.states = torch.zeros(shape, dtype=self.state_dtype, device=self.device)
        super().reset()

    @property
    def state_bytes_per_step(self) -> int:
        """Bytes of stored state per env step."""
        return int(np.prod(self.state_shape)) * self.states.element_size()

    def add(self, *args: Any, state: torch.Tensor, **kwargs: Any) -> None:  # type: ignore[override]
        """Add one step of every env; ``state`` is ``[n_envs, 2, positions, hidden]``."""
        self.states[self.pos] = state.to(self.state_dtype)
        super().add(*args, **kwargs)

    def get(  # type: ignore[override]
        self, batch_size: int | None = None
    ) -> Generator[MaskableDictRolloutBufferSamples, None, None]:
        if not self.generator_ready:  # same env-major order as swap_and_flatten
            self.states = self.states.transpose(0, 1).reshape(-1, *self.state_shape)
        yield from super().get(batch_size)

    def _get_samples(
        self, batch_inds: np.ndarray, env: Any = None
    ) -> MaskableDictRolloutBufferSamples:  # type: ignore[override]
        samples = super()._get_samples(batch_inds, env)
        index = torch.as_tensor(batch_inds, device=self.states.device)
        observations = {**samples.observations, CARRY_KEY: self.states[index]}
        return samples._replace(observations=observations)


class CarryMaskablePPO(MaskablePPO):
    """``MaskablePPO`` for :class:`TRMCarryPolicy`: each env's TRM state persists across steps.

    Arguments are ``MaskablePPO``'s; the policy must be :class:`TRMCarryPolicy`. Its ``train``
    is ``MaskablePPO.train``; only ``collect_rollouts`` differs (it threads the states).
    """

    policy: TRMCarryPolicy
    policy_aliases: ClassVar[dict[str, type]] = {"TRMCarryPolicy": TRMCarryPolicy}

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_last_state"]

    def _setup_model(self) -> None:
        super()._setup_model()
        if not isinstance(self.policy, TRMCarryPolicy):
            raise ValueError(
                f"CarryMaskablePPO needs a TRMCarryPolicy, got {type(self.policy).__name__}; use "
                "MaskablePPO(TRMPolicy, ...) for a TRM without a carry"
            )
        grid_space(self.observation_space)
        self.rollout_buffer = CarryRolloutBuffer(
            self.n_steps,
            self.observation_space,  # type: ignore[arg-type]
            self.action_space,
            device=self.device,
            gamma=self.gamma,
            gae_lambda=self.gae_lambda,
            n_envs=self.n_envs,
            state_shape=self.policy.state_shape(),
            state_dtype=self.policy.state_dtype,
        )
        self._last_state: torch.Tensor | None = None

    def collect_rollouts(  # type: ignore[override]
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: CarryRolloutBuffer,
        n_rollout_steps: int,
        use_masking: bool = True,
    ) -> bool:
        """Fill the buffer with ``n_rollout_steps`` steps of every env, carrying each env's
        state from step to step (and storing the state each step started from)."""
        if self._last_obs is None:
            raise ValueError("no previous observation; call learn(), which resets the env")
        if use_masking and not is_masking_supported(env):
            raise ValueError("the env has no action_masks(); Maze and Sudoku envs of trm_rl do")
        self.policy.set_training_mode(False)
        rollout_buffer.reset()
        callback.on_rollout_start()
        if self._last_state is None or self._last_state.shape[0] != env.num_envs:
            self._last_state = self.policy.initial_state(env.num_envs)
        action_masks = None
        n_steps = 0
        while n_steps < n_rollout_steps:
            with torch.no_grad():
                obs_tensor = obs_as_tensor(self._last_obs, self.device)  # type: ignore[arg-type]
                if use_masking:
                    action_masks = get_action_masks(env)
                starts = torch.as_tensor(self._last_episode_starts, device=self.device)
                actions, values, log_probs, start_state, next_state = self.policy.step_state(
                    obs_tensor,  # type: ignore[arg-type]
                    self._last_state,
                    starts.to(torch.bool),
                    action_masks,
                )
            actions_np = actions.cpu().numpy()
            new_obs, rewards, dones, infos = env.step(actions_np)
            self.num_timesteps += env.num_envs
            callback.update_locals(locals())
            if not callback.on_step():
                return False
            self._update_info_buffer(infos, dones)
            n_steps += 1
            if isinstance(self.action_space, spaces.Discrete):
                actions_np = actions_np.reshape(-1, 1)
            for idx, done in enumerate(dones):  # bootstrap time-outs with the env's own state
                info = infos[idx]
                if (
                    done
                    and info.get("terminal_observation") is not None
                    and info.get("TimeLimit.truncated", False)
                ):
                    terminal = self.policy.obs_to_tensor(info["terminal_observation"])[0]
                    with torch.no_grad():
                        value = self.policy.predict_values_state(
                            terminal,  # type: ignore[arg-type]
                            next_state[idx : idx + 1],
                        )
                    rewards[idx] += self.gamma * value.item()
            rollout_buffer.add(
                self._last_obs,  # type: ignore[arg-type]
                actions_np,
                rewards,
                self._last_episode_starts,  # type: ignore[arg-type]
                values,
                log_probs,
                action_masks=action_masks,
                state=start_state,
            )
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones
            self._last_state = next_state
        with torch.no_grad():
            obs_tensor = obs_as_tensor(new_obs, self.device)  # type: ignore[arg-type]
            grid = tuple(obs_tensor["grid"].shape[1:])  # type: ignore[index,call-overload]
            done_t = torch.as_tensor(dones, device=self.device).to(torch.bool)
            last_state = self.policy.body.reset_state(self._last_state, done_t, grid)  # type: ignore[arg-type]
            values = self.policy.predict_values_state(obs_tensor, last_state)  # type: ignore[arg-type]
        rollout_buffer.compute_returns_and_advantage(last_values=values, dones=dones)
        callback.on_rollout_end()
        return True


__all__ = [
    "CARRY_KEY",
    "STATE_DTYPES",
    "CarryMaskablePPO",
    "CarryRolloutBuffer",
    "TRMCarryPolicy",
]
