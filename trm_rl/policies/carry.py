"""``trm-carry``: a TRM policy whose latent state persists across env steps, with action masks.

Each env keeps its TRM state (``z_H``, ``z_L``) from one env step to the next, so the thinking
of earlier steps carries over and each step can run a single round (``H_cycles=1``). The state
is reset to ``H_init``/``L_init`` at every episode start and, as between deep-supervision steps,
it leaves each step detached.

Because the carry is detached, PPO needs no back-propagation through time: the rollout buffer
stores the state that each step's *last* round started from (in ``bfloat16`` by default, 2 bytes
a value), and the update recomputes that one round, and the step's log-probabilities, from it in
ordinary shuffled minibatches, with the action masks. Gradients only ever flow through the last
round, so this is exact: the rollout uses the stored (rounded) state itself, and before the
first gradient step the recomputed log-probabilities equal the rollout's. Earlier rounds of a
step (``think_steps > 1``) cost the update nothing.

**ACT thinking time** (``think_rounds``): each env step runs up to ``think_rounds`` rounds
and stops as soon as ``halt_by`` says so. ``"head"`` (the default) asks the TRM's halting head
(``sigmoid(q_halt) > halt_threshold``, 0.5: ``q_halt > 0``). The head is trained after every
PPO update, by one pass over the rollout with its own Adam optimiser, on its own (the policy's
features are detached): the binary cross-entropy of ``q_halt`` after a round against the target
"one more round would not change the greedy legal action". ``rollout/think_steps`` logs the
mean rounds per action and ``train/halt_*`` the head's loss and target rate. The head starts
undecided (``reset_halting_head``: zero weights and bias, so ``q_halt = 0``), whatever a
supervised run left in it (there it meant "the answer is right"). ``"confidence"`` needs no
training: a row stops once its most likely legal action has probability ``>= halt_threshold``,
so the policy thinks on where it is unsure (a junction) and moves on where it is not.

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

import math
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
#: Adam learning rate of the halting head (ACT thinking time). It is its own small problem (a
#: linear probe on detached features), independent of the PPO learning rate, which is 3e-5 when
#: fine-tuning a pretrained policy: far too slow to move a logit.
HALT_LEARNING_RATE = 1e-3
#: Storage dtypes of the carried state.
STATE_DTYPES: dict[str, torch.dtype] = {
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
    "float32": torch.float32,
}


#: How ACT thinking time decides that a row has thought enough after a round:
#: ``"head"``: the TRM's halting head, ``sigmoid(q_halt) > halt_threshold`` (trained after every
#: PPO update); ``"confidence"``: the policy itself, once its most likely legal action has
#: probability ``>= halt_threshold`` (nothing to train: any ACT run can think this way).
HALT_CRITERIA = ("head", "confidence")


def halt_threshold_logit(threshold: float) -> float:
    """The halting logit above which a row stops: ``log(t / (1 - t))`` (0 at 0.5, exactly).

    :raises ValueError: for a threshold outside (0, 1).
    """
    if not isinstance(threshold, int | float) or not 0.0 < float(threshold) < 1.0:
        raise ValueError(f"halt threshold must be in (0, 1), got {threshold!r}")
    return 0.0 if threshold == 0.5 else math.log(threshold / (1.0 - threshold))


class TRMCarryPolicy(TRMPolicy):
    """A :class:`TRMPolicy` that starts every env step from the env's carried state.

    :param state_dtype: ``"bfloat16"`` (default), ``"float16"`` or ``"float32"``: how the state
        is kept between steps and stored for the update.
    :param think_rounds: None (default): every env step runs ``think_steps`` rounds. An int:
        ACT thinking time, up to this many rounds per env step, fewer when the halting head
        says so (see the module docstring).
    :param kwargs: :class:`TRMPolicy` arguments (``model``, ``think_steps``, optimizer ...).
    """

    def __init__(
        self,
        *args: Any,
        state_dtype: str = "bfloat16",
        think_rounds: int | None = None,
        halt_by: str = "head",
        **kwargs: Any,
    ) -> None:
        if halt_by not in HALT_CRITERIA:
            raise ValueError(f"halt_by must be one of {list(HALT_CRITERIA)}, got {halt_by!r}")
        if state_dtype not in STATE_DTYPES:
            raise ValueError(
                f"state_dtype must be one of {list(STATE_DTYPES)}, got {state_dtype!r}"
            )
        if think_rounds is not None and (
            not isinstance(think_rounds, int) or isinstance(think_rounds, bool) or think_rounds < 1
        ):
            raise ValueError(f"think_rounds must be None or an int >= 1, got {think_rounds!r}")
        self.state_dtype_name = state_dtype
        self.think_rounds = think_rounds
        #: ACT thinking time stops a row once ``sigmoid(q_halt)`` exceeds this probability
        #: (0.5: ``q_halt > 0``, as the head is trained). Evaluation may raise it to think
        #: longer where the head is unsure (:func:`trm_rl.policies.evaluate.agent_act`).
        self.halt_threshold = 0.5
        #: What stops a row's thinking (see :data:`HALT_CRITERIA`); evaluation may switch it.
        self.halt_by = halt_by
        #: ``[B]`` rounds each row of the last :meth:`step_state` call thought for.
        self.last_think_steps: torch.Tensor | None = None
        super().__init__(*args, **kwargs)

    def reset_halting_head(self) -> None:
        """Zero the halting head (``q_halt = 0`` everywhere: think to ``think_rounds`` until it
        learns); :func:`~trm_rl.policies.agents.build_agent` calls it for ACT runs."""
        with torch.no_grad():
            self.trm.q_head.weight.zero_()
            self.trm.q_head.bias.zero_()

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {
            **super()._get_constructor_parameters(),
            "state_dtype": self.state_dtype_name,
            "think_rounds": self.think_rounds,
            "halt_by": self.halt_by,
        }

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

    # ------------------------------------------------------------------------------ thinking
    def halt_logits(self, z_H: torch.Tensor) -> torch.Tensor:
        """``[B]`` halting logits (``q_halt``) of answer states ``[B, positions, hidden]``, read
        as the TRM reads them (position 0, or the mean over cells with ``pooled_q_head``)."""
        model = self.trm
        if model.config.pooled_q_head:
            features = z_H[:, model.config.prefix_len :].mean(dim=1)
        else:
            features = z_H[:, 0]
        return model.q_head(features).float()[..., 0]

    def think(
        self,
        tokens: torch.Tensor,
        start: torch.Tensor,
        adaptive: bool | None = None,
        explore: bool = False,
        action_masks: np.ndarray | torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Think from ``start`` (no gradients): ``think_steps`` rounds, or with ``think_rounds``
        until :attr:`halt_by` stops each row (the halting head, or the policy's confidence).

        :param tokens: ``[B, rows, cols]`` token ids.
        :param start: ``[B, 2, positions, hidden]`` (already reset) states.
        :param adaptive: halt by the head (default: when ``think_rounds`` is set); False runs
            every row for ``think_rounds`` (or ``think_steps``) rounds.
        :param explore: with ``adaptive``, each row stops by ``halt_exploration_prob`` (of the
            TRM config) at a uniform round in ``[1, think_rounds]`` at the latest, so that the
            halting head also sees early rounds in training (as TRM's ACT explores).
        :param action_masks: ``[B, n_actions]`` legal actions, for ``halt_by="confidence"``
            (None: every action counts).
        :return: ``(last_start, z_H, next_state, rounds)``: the state each row's last round
            started from (storage dtype; the update recomputes that round from it), that
            round's answer state, the state after it (storage dtype) and ``[B]`` rounds.
        """
        adaptive = self.think_rounds is not None if adaptive is None else adaptive
        limit = self.think_rounds or self.body.think_steps
        halt_logit = halt_threshold_logit(self.halt_threshold)
        batch = tokens.shape[0]
        state = start.to(self.state_dtype)
        rounds = torch.full((batch,), limit, dtype=torch.long, device=tokens.device)
        cap = rounds
        if adaptive and explore:
            prob = self.model_config.halt_exploration_prob
            early = torch.rand(batch, device=tokens.device) < prob
            cap = torch.where(early, torch.randint_like(rounds, 1, limit + 1), rounds)
        last_start = state
        z_H = next_state = None
        with torch.no_grad():
            for k in range(1, limit + 1):
                z_k, after = self.body.think(tokens, state, steps=1)
                after = after.to(self.state_dtype)
                if z_H is None:
                    done = torch.zeros(batch, dtype=torch.bool, device=tokens.device)
                    last_start, z_H, next_state = state, z_k, after
                else:  # rows still thinking take this round's results
                    keep = done.view(-1, 1, 1)
                    last_start = torch.where(keep.unsqueeze(1), last_start, state)
                    z_H = torch.where(keep, z_H, z_k)
                    next_state = torch.where(keep.unsqueeze(1), next_state, after)
                if k == limit:
                    break
                if adaptive:
                    if self.halt_by == "confidence":
                        probs = self._greedy_logits(tokens, z_k, action_masks).softmax(dim=-1)
                        enough = probs.amax(dim=-1) >= self.halt_threshold
                    else:
                        enough = self.halt_logits(z_k) > halt_logit
                    stop = ~done & (enough | (cap <= k))
                    rounds = torch.where(stop, k, rounds)
                    done = done | stop
                    if bool(done.all()):
                        break
                state = after
        self.last_think_steps = rounds
        return last_start, z_H, next_state, rounds  # type: ignore[return-value]

    # ------------------------------------------------------------------------------ stepping
    def step_state(
        self,
        obs: dict[str, torch.Tensor],
        state: torch.Tensor,
        episode_start: torch.Tensor,
        action_masks: np.ndarray | torch.Tensor | None = None,
        deterministic: bool = False,
        explore: bool = False,
        adaptive: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One env step from the carried state.

        :param obs: observation tensors (``grid`` ``[B, rows, cols]``, ...).
        :param state: ``[B, 2, positions, hidden]`` carried from the previous step.
        :param episode_start: ``[B]`` bool; those rows restart from the initial state.
        :param action_masks: ``[B, n_actions]`` legal actions (None: all).
        :param deterministic: greedy actions instead of samples.
        :param explore: ACT exploration of the thinking time (see :meth:`think`).
        :param adaptive: False thinks ``think_rounds`` rounds whatever the halting head says
            (default: halt by the head when ``think_rounds`` is set).
        :return: ``(actions, values, log_probs, start_state, next_state)``; ``start_state`` is
            the state the step's last round started from, what the buffer stores (the update
            recomputes that round from it), both states in the storage dtype. The rounds each
            row took are in :attr:`last_think_steps`.
        """
        tokens = self.extract_features(obs)
        grid = tuple(tokens.shape[1:])
        start = self.body.reset_state(state.to(self.state_dtype), episode_start, grid)  # type: ignore[arg-type]
        start, z_H, next_state, _ = self.think(tokens, start, adaptive, explore, action_masks)
        logits, latent_vf = self.body.heads(tokens, z_H)
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
        _, z_H, _, _ = self.think(tokens, state)
        return self.value_net(self.body.heads(tokens, z_H)[1])

    def evaluate_actions(  # type: ignore[override]
        self,
        obs: dict[str, torch.Tensor],
        actions: torch.Tensor,
        action_masks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Values, log-probabilities and entropies of ``actions``, each step's last round
        recomputed from the state it started from (``obs[CARRY_KEY]``, put there by
        :class:`CarryRolloutBuffer`).
        """
        if CARRY_KEY not in obs:
            raise ValueError(
                "TRMCarryPolicy.evaluate_actions needs the stored start states under "
                f"obs[{CARRY_KEY!r}]; train it with CarryMaskablePPO, whose buffer stores them"
            )
        obs = dict(obs)
        state = obs.pop(CARRY_KEY)
        tokens = self.extract_features(obs)
        z_H, _ = self.body.think(tokens, state, steps=1)
        logits, latent_vf = self.body.heads(tokens, z_H)
        distribution = self._get_action_dist_from_latent(logits)
        if action_masks is not None:
            distribution.apply_masking(action_masks)
        return self.value_net(latent_vf), distribution.log_prob(actions), distribution.entropy()

    def halting_batch(
        self, obs: dict[str, torch.Tensor], action_masks: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Halting logits and their targets for stored steps (``obs[CARRY_KEY]``).

        :return: ``(q_halt [B] with gradients into the halting head only, target [B])``;
            the target is 1 where one more round leaves the greedy legal action unchanged.
        """
        state = obs[CARRY_KEY]
        # Only the env's keys: a frozen-trunk buffer also stores cached trunk features.
        obs = {k: v for k, v in obs.items() if k in self.observation_space.spaces}
        tokens = self.extract_features(obs)
        with torch.no_grad():
            z_now, after = self.body.think(tokens, state, steps=1)
            z_more, _ = self.body.think(tokens, after.to(self.state_dtype), steps=1)
            now = self._greedy(tokens, z_now, action_masks)
            more = self._greedy(tokens, z_more, action_masks)
        return self.halt_logits(z_now.detach()), (now == more).float()

    def _greedy_logits(
        self,
        tokens: torch.Tensor,
        z_H: torch.Tensor,
        action_masks: np.ndarray | torch.Tensor | None,
    ) -> torch.Tensor:
        """``[B, n_actions]`` action logits of answer states, illegal actions at ``-inf``."""
        logits = self.body.heads(tokens, z_H)[0]
        if action_masks is not None:
            mask = torch.as_tensor(action_masks, device=logits.device).view(logits.shape)
            logits = logits.masked_fill(~mask.to(torch.bool), -torch.inf)
        return logits

    def _greedy(
        self, tokens: torch.Tensor, z_H: torch.Tensor, action_masks: torch.Tensor | None
    ) -> torch.Tensor:
        return self._greedy_logits(tokens, z_H, action_masks).argmax(dim=-1)

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
    is ``MaskablePPO.train``, followed, for a policy with ``think_rounds``, by one pass that
    trains the halting head; ``collect_rollouts`` threads the states.
    """

    policy: TRMCarryPolicy
    policy_aliases: ClassVar[dict[str, type]] = {"TRMCarryPolicy": TRMCarryPolicy}

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_last_state", "_halt_optimizer"]

    def train(self) -> None:
        """``MaskablePPO.train``, then (ACT thinking time halted by the head) one pass of the
        halting head."""
        super().train()
        if self.policy.think_rounds is not None and self.policy.halt_by == "head":
            self._train_halting()

    def _train_halting(self) -> None:
        """One pass over the rollout: binary cross-entropy of ``q_halt`` after each stored
        step's last round against "one more round keeps the greedy legal action", with its own
        Adam on the halting head alone (the PPO loss never reaches that head)."""
        head = self.policy.trm.q_head
        if getattr(self, "_halt_optimizer", None) is None:
            self._halt_optimizer = torch.optim.Adam(head.parameters(), lr=HALT_LEARNING_RATE)
        self.policy.set_training_mode(True)
        losses, targets = [], []
        for data in self.rollout_buffer.get(self.batch_size):
            logits, target = self.policy.halting_batch(data.observations, data.action_masks)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
            self._halt_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self._halt_optimizer.step()
            losses.append(loss.item())
            targets.append(target.mean().item())
        for p in head.parameters():  # nothing of this pass reaches the PPO optimiser
            p.grad = None
        self.logger.record("train/halt_loss", float(np.mean(losses)))
        self.logger.record("train/halt_target_rate", float(np.mean(targets)))

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
        rounds_sum, rounds_count = 0.0, 0
        explore = self.policy.think_rounds is not None
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
                    explore=explore,
                )
            rounds = self.policy.last_think_steps
            if rounds is not None:
                rounds_sum += float(rounds.sum())
                rounds_count += rounds.numel()
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
        if rounds_count:
            self.logger.record("rollout/think_steps", rounds_sum / rounds_count)
        callback.on_rollout_end()
        return True


__all__ = [
    "CARRY_KEY",
    "HALT_LEARNING_RATE",
    "STATE_DTYPES",
    "CarryMaskablePPO",
    "CarryRolloutBuffer",
    "TRMCarryPolicy",
]
