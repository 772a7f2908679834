"""``--freeze-trm`` with cached trunk features: the update trains the heads and never runs the TRM.

With a frozen TRM (``freeze_trm``), the embeddings and the reasoning network do not change
during training, so the answer state ``z_H`` that the heads read is a fixed function of each
observation (and, for ``trm-carry``, of the state the step started from). The rollout computes
it anyway, to act; here the rollout buffer keeps it, and ``evaluate_actions`` in the update
reads it back instead of running the recursion ``n_epochs`` more times. An update then costs
only the heads: ``lm_head`` over the cells, the maze move head and the value head.

This is exact: the buffer stores the very tensor the rollout's heads read (in the TRM's
forward dtype), so before the first gradient step the update's log-probabilities and values
equal the rollout's and those of :class:`~trm_rl.policies.trm_policy.TRMPolicy` with
``freeze_trm=True``, which recomputes them.

- :class:`FrozenTRMPolicy` (``trm``) and :class:`FrozenCarryPolicy` (``trm-carry``) act from
  raw observations (``predict``, :func:`~trm_rl.policies.evaluate.agent_act`) exactly as their
  parents do, have the same ``state_dict`` (so runs saved before this module load unchanged),
  and read the features from the observation dict (key :data:`FEATURES_KEY`) in
  ``evaluate_actions``;
- :class:`FeatureRolloutBuffer` / :class:`FeatureCarryRolloutBuffer` store the features of
  each step: ``add`` asks the policy for the features its last rollout step computed (checked
  against the step's grids and start state; on a mismatch they are computed again, so the buffer
  is right whoever calls ``add``);
- :class:`FrozenMaskablePPO` / :class:`FrozenCarryMaskablePPO` only swap in those buffers; the
  rollout loop and ``train`` are their parents'.

:func:`~trm_rl.policies.agents.build_agent` uses them for ``--freeze-trm``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, ClassVar

import numpy as np
import torch
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.buffers import (
    MaskableDictRolloutBuffer,
    MaskableDictRolloutBufferSamples,
)
from sb3_contrib.common.maskable.distributions import MaskableDistribution

from trm_rl.policies.carry import (
    CARRY_KEY,
    CarryMaskablePPO,
    CarryRolloutBuffer,
    TRMCarryPolicy,
)
from trm_rl.policies.trm_policy import TRMPolicy

#: Observation-dict key under which minibatches carry the stored trunk features.
FEATURES_KEY = "trm_features"

#: ``features_of(obs, state)``: the ``[n_envs, cells, hidden]`` features of one rollout step.
FeatureSource = Callable[[dict[str, np.ndarray], "torch.Tensor | None"], torch.Tensor]


class _FrozenTrunk:
    """What the frozen ``trm`` and ``trm-carry`` policies share: the features of the last
    rollout step, and heads that read given features. Mixed into a :class:`TRMPolicy`."""

    _last_step: tuple[torch.Tensor, torch.Tensor | None, torch.Tensor] | None

    def _check_frozen(self, freeze_trm: bool) -> None:
        if freeze_trm is not True:
            raise ValueError(
                f"{type(self).__name__} caches the features of a frozen TRM (freeze_trm=True); "
                "use TRMPolicy or TRMCarryPolicy to train the whole TRM"
            )
        self._last_step = None

    def feature_shape(self) -> tuple[int, int]:
        """``(cells, hidden)``: the stored features of one env step."""
        rows, cols = self.body.grid_shape  # type: ignore[attr-defined]
        return rows * cols, self.model_config.hidden_size  # type: ignore[attr-defined]

    @property
    def feature_dtype(self) -> torch.dtype:
        """The TRM's forward dtype, in which the features are stored (exactly as computed)."""
        return self.trm.dtype  # type: ignore[attr-defined]

    def trunk(self, tokens: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, cells, hidden]``: the answer state the heads read, without gradients (the
        policy's own thinking; see the subclasses)."""
        raise NotImplementedError

    def _remember(
        self, tokens: torch.Tensor, state: torch.Tensor | None, cells: torch.Tensor
    ) -> None:
        self._last_step = (tokens, state, cells)

    def rollout_features(
        self, obs: dict[str, np.ndarray], state: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The features of a rollout step's observations (and start states): those the last
        rollout step computed when it saw exactly these, else computed now.

        :param obs: the step's observations as the buffer gets them (``grid`` ``[n_envs, rows,
            cols]``).
        :param state: ``trm-carry``: the ``[n_envs, 2, positions, hidden]`` start states.
        """
        device = self.device  # type: ignore[attr-defined]
        tokens = torch.as_tensor(np.asarray(obs["grid"]), device=device).long()
        last, self._last_step = self._last_step, None
        if last is not None and _same(last[0], tokens) and _same(last[1], state):
            return last[2]
        return self.trunk(tokens, state)

    def _readout(
        self,
        tokens: torch.Tensor,
        cells: torch.Tensor,
        action_masks: np.ndarray | torch.Tensor | None,
    ) -> tuple[MaskableDistribution, torch.Tensor]:
        """The masked action distribution and the values ``[B, 1]`` the heads read from the
        features ``cells`` ``[B, cells, hidden]``."""
        logits, latent_vf = self.body.readout(tokens, cells)  # type: ignore[attr-defined]
        distribution = self._get_action_dist_from_latent(logits)  # type: ignore[attr-defined]
        if action_masks is not None:
            distribution.apply_masking(action_masks)
        return distribution, self.value_net(latent_vf)  # type: ignore[attr-defined]

    def _tokens(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.extract_features({"grid": obs["grid"]})  # type: ignore[attr-defined]

    def evaluate_actions(  # type: ignore[override]
        self,
        obs: dict[str, torch.Tensor],
        actions: torch.Tensor,
        action_masks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Values, log-probabilities and entropies of ``actions`` from the stored features
        (``obs[FEATURES_KEY]``, put there by the buffer): the heads only, no recursion. Without
        that key the features are computed as the rollout computed them."""
        tokens = self._tokens(obs)
        cells = obs.get(FEATURES_KEY)
        if cells is None:
            cells = self.trunk(tokens, self._stored_state(obs))
        distribution, values = self._readout(tokens, cells, action_masks)
        return values, distribution.log_prob(actions), distribution.entropy()

    def _stored_state(self, obs: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The start states a minibatch carries (``trm-carry``), else None."""
        return None


def _same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(torch.equal(a, b.to(a.dtype)))


class FrozenTRMPolicy(_FrozenTrunk, TRMPolicy):
    """:class:`TRMPolicy` with a frozen TRM whose rollout features feed the update.

    Takes :class:`TRMPolicy`'s arguments; ``freeze_trm`` must be True (the default).
    """

    def __init__(self, *args: Any, freeze_trm: bool = True, **kwargs: Any) -> None:
        self._check_frozen(freeze_trm)
        super().__init__(*args, freeze_trm=True, **kwargs)

    def trunk(self, tokens: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, cells, hidden]`` answer state after ``think_steps`` supervision steps from the
        initial state (no gradients; ``state`` is not used)."""
        del state
        with torch.no_grad():
            z_H, _ = self.body.think(tokens)
        return z_H[:, self.model_config.prefix_len :]

    def forward(  # type: ignore[override]
        self,
        obs: dict[str, torch.Tensor],
        deterministic: bool = False,
        action_masks: np.ndarray | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The rollout step: actions, values and log-probabilities, as ``TRMPolicy``; the
        features are kept for the buffer (:meth:`rollout_features`)."""
        tokens = self._tokens(obs)
        cells = self.trunk(tokens)
        self._remember(tokens, None, cells)
        distribution, values = self._readout(tokens, cells, action_masks)
        actions = distribution.get_actions(deterministic=deterministic)
        log_prob = distribution.log_prob(actions)
        return actions.reshape((-1, *self.action_space.shape)), values, log_prob  # type: ignore[misc]


class FrozenCarryPolicy(_FrozenTrunk, TRMCarryPolicy):
    """:class:`TRMCarryPolicy` with a frozen TRM whose rollout features feed the update (the
    buffer still stores the start states, which ACT's halting head trains on).

    Takes :class:`TRMCarryPolicy`'s arguments; ``freeze_trm`` must be True (the default).
    """

    def __init__(self, *args: Any, freeze_trm: bool = True, **kwargs: Any) -> None:
        self._check_frozen(freeze_trm)
        super().__init__(*args, freeze_trm=True, **kwargs)

    def trunk(self, tokens: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, cells, hidden]`` answer state of the one round from ``state`` (a step's last
        round's start state, as stored; no gradients)."""
        if state is None:
            raise ValueError(
                "a trm-carry step's features need the state its last round started from"
            )
        with torch.no_grad():
            z_H, _ = self.body.think(tokens, state, steps=1)
        return z_H[:, self.model_config.prefix_len :]

    def _stored_state(self, obs: dict[str, torch.Tensor]) -> torch.Tensor | None:
        if CARRY_KEY not in obs:
            raise ValueError(
                "FrozenCarryPolicy.evaluate_actions needs the stored features under "
                f"obs[{FEATURES_KEY!r}] or the start states under obs[{CARRY_KEY!r}]; train it "
                "with FrozenCarryMaskablePPO, whose buffer stores both"
            )
        return obs[CARRY_KEY]

    def step_state(  # type: ignore[override]
        self,
        obs: dict[str, torch.Tensor],
        state: torch.Tensor,
        episode_start: torch.Tensor,
        action_masks: np.ndarray | torch.Tensor | None = None,
        deterministic: bool = False,
        explore: bool = False,
        adaptive: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`TRMCarryPolicy.step_state`; the features are kept for the buffer."""
        tokens = self._tokens(obs)
        grid = tuple(tokens.shape[1:])
        start = self.body.reset_state(state.to(self.state_dtype), episode_start, grid)  # type: ignore[arg-type]
        start, z_H, next_state, _ = self.think(tokens, start, adaptive, explore, action_masks)
        cells = z_H[:, self.model_config.prefix_len :]
        self._remember(tokens, start, cells)
        distribution, values = self._readout(tokens, cells, action_masks)
        actions = distribution.get_actions(deterministic=deterministic)
        log_prob = distribution.log_prob(actions)
        return actions, values, log_prob, start, next_state.to(self.state_dtype)


class _FeatureStore:
    """Buffer part that stores each step's features (mixed into a ``MaskableDictRolloutBuffer``
    subclass, before it)."""

    def __init__(
        self,
        *args: Any,
        feature_shape: tuple[int, ...],
        feature_dtype: torch.dtype,
        features_of: FeatureSource,
        **kwargs: Any,
    ) -> None:
        self.feature_shape = tuple(feature_shape)  # before the parent's reset() allocates
        self.feature_dtype = feature_dtype
        self.features_of = features_of
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        shape = (self.buffer_size, self.n_envs, *self.feature_shape)  # type: ignore[attr-defined]
        self.features = torch.zeros(shape, dtype=self.feature_dtype, device=self.device)  # type: ignore[attr-defined]
        super().reset()  # type: ignore[misc]

    @property
    def feature_bytes_per_step(self) -> int:
        """Bytes of stored features per env step."""
        return int(np.prod(self.feature_shape)) * self.features.element_size()

    def add(self, obs: dict[str, np.ndarray], *args: Any, **kwargs: Any) -> None:
        """Add one step of every env, with its features (``features_of(obs, state)``)."""
        self.features[self.pos] = self.features_of(obs, kwargs.get("state"))  # type: ignore[attr-defined]
        super().add(obs, *args, **kwargs)  # type: ignore[misc]

    def get(  # type: ignore[override]
        self, batch_size: int | None = None
    ) -> Generator[MaskableDictRolloutBufferSamples, None, None]:
        if not self.generator_ready:  # type: ignore[attr-defined]  # env-major, as the rest
            self.features = self.features.transpose(0, 1).reshape(-1, *self.feature_shape)
        yield from super().get(batch_size)  # type: ignore[misc]

    def _get_samples(
        self, batch_inds: np.ndarray, env: Any = None
    ) -> MaskableDictRolloutBufferSamples:
        samples = super()._get_samples(batch_inds, env)  # type: ignore[misc]
        index = torch.as_tensor(batch_inds, device=self.features.device)
        observations = {**samples.observations, FEATURES_KEY: self.features[index]}
        return samples._replace(observations=observations)


class FeatureRolloutBuffer(_FeatureStore, MaskableDictRolloutBuffer):
    """A ``MaskableDictRolloutBuffer`` that also stores each step's trunk features.

    :param feature_shape: ``(cells, hidden)`` of one env step.
    :param feature_dtype: the storage dtype (the TRM's forward dtype: exact).
    :param features_of: ``(obs, state) -> [n_envs, cells, hidden]`` of the step being added
        (:meth:`FrozenTRMPolicy.rollout_features`).
    :param args: the parent's arguments (buffer size, spaces, device, ...).
    """


class FeatureCarryRolloutBuffer(_FeatureStore, CarryRolloutBuffer):
    """A :class:`~trm_rl.policies.carry.CarryRolloutBuffer` that also stores each step's
    trunk features (arguments: :class:`FeatureRolloutBuffer`'s and the parent's)."""


def _feature_buffer(agent: Any, buffer_class: type, **extra: Any) -> Any:
    """The agent's rollout buffer rebuilt as ``buffer_class`` (fed by the agent's policy)."""
    return buffer_class(
        agent.n_steps,
        agent.observation_space,
        agent.action_space,
        device=agent.device,
        gamma=agent.gamma,
        gae_lambda=agent.gae_lambda,
        n_envs=agent.n_envs,
        feature_shape=agent.policy.feature_shape(),
        feature_dtype=agent.policy.feature_dtype,
        features_of=agent.policy.rollout_features,
        **extra,
    )


class FrozenMaskablePPO(MaskablePPO):
    """``MaskablePPO`` for :class:`FrozenTRMPolicy`: its buffer stores the rollout's trunk
    features, so the update runs the heads only. Arguments are ``MaskablePPO``'s."""

    policy: FrozenTRMPolicy
    policy_aliases: ClassVar[dict[str, type]] = {"FrozenTRMPolicy": FrozenTRMPolicy}

    def _setup_model(self) -> None:
        super()._setup_model()
        if not isinstance(self.policy, FrozenTRMPolicy):
            raise ValueError(
                f"FrozenMaskablePPO needs a FrozenTRMPolicy, got {type(self.policy).__name__}"
            )
        self.rollout_buffer = _feature_buffer(self, FeatureRolloutBuffer)


class FrozenCarryMaskablePPO(CarryMaskablePPO):
    """:class:`~trm_rl.policies.carry.CarryMaskablePPO` for :class:`FrozenCarryPolicy`: its
    buffer stores the rollout's trunk features beside the start states."""

    policy: FrozenCarryPolicy
    policy_aliases: ClassVar[dict[str, type]] = {"FrozenCarryPolicy": FrozenCarryPolicy}

    def _setup_model(self) -> None:
        super()._setup_model()
        if not isinstance(self.policy, FrozenCarryPolicy):
            raise ValueError(
                f"FrozenCarryMaskablePPO needs a FrozenCarryPolicy, got "
                f"{type(self.policy).__name__}"
            )
        self.rollout_buffer = _feature_buffer(
            self,
            FeatureCarryRolloutBuffer,
            state_shape=self.policy.state_shape(),
            state_dtype=self.policy.state_dtype,
        )


__all__ = [
    "FEATURES_KEY",
    "FeatureCarryRolloutBuffer",
    "FeatureRolloutBuffer",
    "FrozenCarryMaskablePPO",
    "FrozenCarryPolicy",
    "FrozenMaskablePPO",
    "FrozenTRMPolicy",
]
