"""``TRMPolicy``: a TRM actor-critic for SB3 ``PPO`` and sb3-contrib ``MaskablePPO``.

Built only through SB3's documented extension points, with plain ``policy_kwargs``, so that
``.save``/``.load`` work unchanged::

    from sb3_contrib import MaskablePPO
    from trm_rl.model import TRMConfig
    from trm_rl.policies import TRMPolicy, make_sb3_vec_env

    venv = make_sb3_vec_env("trm_rl/Sudoku-4x4-v0", num_envs=16)
    config = TRMConfig.preset("cpu-sudoku-4x4")
    agent = MaskablePPO(TRMPolicy, venv, policy_kwargs={"model": config.to_dict()})

- the features extractor (:class:`GridTokens`) hands the observation's token grid on as ids;
- the ``mlp_extractor`` is :class:`~trm_rl.policies.networks.TRMActorCritic`: one TRM
  supervision step from the initial state, per-action logits for the actor and a pooled state
  for the critic;
- ``action_net`` is the identity (the logits come out of the TRM's own heads, shaped like the
  supervised model's, so a supervised checkpoint can initialise the policy);
- ``value_net`` is SB3's linear value head.

SB3's orthogonal initialisation is applied to the value head only: the TRM keeps its own
initialisation (the official one).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from trm_rl.model.config import TRMConfig
from trm_rl.policies.networks import Game, TRMActorCritic

#: TRM parameters that ``freeze_trm`` leaves trainable (the output heads).
TRAINABLE_WHEN_FROZEN = ("lm_head", "q_head")


class GridTokens(BaseFeaturesExtractor):
    """Pass the observation's ``grid`` on as int64 token ids ``[B, rows, cols]``.

    SB3 casts ``Box`` observations to float before the extractor; token ids are small integers,
    so the round trip is exact.

    :param observation_space: ``Dict(grid=Box(..., (rows, cols)), action_mask=...)``.
    """

    def __init__(self, observation_space: spaces.Dict) -> None:
        grid = grid_space(observation_space)
        super().__init__(observation_space, features_dim=int(np.prod(grid.shape)))

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        return observations["grid"].long()


def grid_space(observation_space: spaces.Space) -> spaces.Box:
    """The ``grid`` entry of a Maze/Sudoku observation space (a clear error otherwise)."""
    if not isinstance(observation_space, spaces.Dict) or "grid" not in observation_space.spaces:
        raise ValueError(
            "TRM policies take the observations of the trm_rl Maze and Sudoku envs, "
            f"Dict(grid=Box(rows, cols), action_mask=...); got {observation_space}"
        )
    grid = observation_space["grid"]
    if not isinstance(grid, spaces.Box) or len(grid.shape) != 2:
        raise ValueError(f"observation 'grid' must be a 2-D Box of token ids, got {grid}")
    return grid


def infer_game(observation_space: spaces.Space, action_space: spaces.Space) -> Game:
    """``"maze"`` (Discrete(4)) or ``"sudoku"`` (Discrete(N**3) on an N x N grid)."""
    grid = grid_space(observation_space)
    if not isinstance(action_space, spaces.Discrete):
        raise ValueError(f"TRM policies need a Discrete action space, got {action_space}")
    rows, cols = grid.shape
    n = int(action_space.n)
    if n == 4:
        return "maze"
    if rows == cols and n == rows**3:
        return "sudoku"
    raise ValueError(
        f"cannot tell the game from a {rows}x{cols} grid and Discrete({n}) actions; TRM policies "
        "support the trm_rl Maze (Discrete(4)) and Sudoku (Discrete(N**3)) envs"
    )


def policy_model_config(model: TRMConfig | dict[str, Any] | None) -> TRMConfig:
    """The policy's TRM config from ``policy_kwargs['model']`` (a config or its ``to_dict()``)."""
    if model is None:
        raise ValueError(
            "TRM policies need policy_kwargs={'model': TRMConfig(...).to_dict()} (see "
            "trm_rl.policies.train.policy_config for configs fitted to an env)"
        )
    if isinstance(model, TRMConfig):
        return model
    if isinstance(model, dict):
        return TRMConfig.from_dict(model)
    raise ValueError(f"policy_kwargs['model'] must be a TRMConfig or a dict, got {type(model)}")


class TRMPolicy(MaskableActorCriticPolicy):
    """Actor-critic policy whose body is a TRM (one supervision step per env step).

    Works with ``MaskablePPO`` (pass action masks) and with plain ``PPO`` (no masks).

    :param observation_space: a trm_rl Maze or Sudoku observation space.
    :param action_space: its ``Discrete`` action space.
    :param lr_schedule: SB3's learning-rate schedule.
    :param model: the TRM config (``TRMConfig`` or ``TRMConfig.to_dict()``); its ``vocab_size``
        must cover the tokens and, for global mixers, ``seq_len`` must equal the cells.
    :param think_steps: supervision steps per env step (the earlier ones without gradients).
    :param freeze_trm: train only the TRM's heads (``lm_head``, ``q_head``, the maze move head
        and path scale) and the value head; the embeddings and the reasoning network stay as
        initialised (e.g. by a supervised run), and the update back-propagates through no
        recursion at all.
    :param kwargs: other :class:`MaskableActorCriticPolicy` arguments (optimizer, ...);
        ``net_arch`` and ``features_extractor_class`` are fixed by this policy.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Any,
        model: TRMConfig | dict[str, Any] | None = None,
        think_steps: int = 1,
        freeze_trm: bool = False,
        **kwargs: Any,
    ) -> None:
        for fixed in ("net_arch", "features_extractor_class", "features_extractor_kwargs"):
            if kwargs.pop(fixed, None) not in (None, [], {}):
                raise ValueError(f"TRMPolicy sets {fixed} itself; remove it from policy_kwargs")
        if kwargs.pop("use_sde", False):  # plain PPO passes it; Discrete actions have no SDE
            raise ValueError("TRMPolicy has Discrete actions; use_sde must be False")
        if kwargs.get("share_features_extractor", True) is not True:
            raise ValueError("TRMPolicy shares one TRM between actor and critic")
        self.model_config = policy_model_config(model)
        self.game = infer_game(observation_space, action_space)
        self.think_steps = think_steps
        self.freeze_trm = bool(freeze_trm)
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch=[],
            features_extractor_class=GridTokens,
            **kwargs,
        )

    # ------------------------------------------------------------------------ construction
    def _build_mlp_extractor(self) -> None:
        grid = grid_space(self.observation_space)
        self.mlp_extractor = TRMActorCritic(  # type: ignore[assignment]
            self.model_config,
            self.game,
            grid.shape,
            self.think_steps,  # type: ignore[arg-type]
        )

    def _build(self, lr_schedule: Any) -> None:
        self._build_mlp_extractor()
        if self.freeze_trm:
            for name, param in self.body.model.named_parameters():
                param.requires_grad_(name.split(".")[0] in TRAINABLE_WHEN_FROZEN)
        self.action_net = nn.Identity()
        self.value_net = nn.Linear(self.mlp_extractor.latent_dim_vf, 1)
        if self.ortho_init:
            self.value_net.apply(partial(self.init_weights, gain=1.0))
        self.optimizer = self.optimizer_class(
            self.parameters(),
            lr=lr_schedule(1),  # type: ignore[call-arg]
            **self.optimizer_kwargs,
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        for key in ("net_arch", "features_extractor_class", "features_extractor_kwargs"):
            data.pop(key, None)
        data.update(
            model=self.model_config.to_dict(),
            think_steps=self.think_steps,
            freeze_trm=self.freeze_trm,
        )
        return data

    # ---------------------------------------------------------------------------- accessors
    @property
    def body(self) -> TRMActorCritic:
        """The TRM actor-critic body (``self.mlp_extractor``)."""
        return self.mlp_extractor  # type: ignore[return-value]

    @property
    def trm(self):
        """The TRM itself (for ``compile_network()``, checkpoints, parameter counts)."""
        return self.body.model

    # ------------------------------------------------------------------------------ forward
    def latents(
        self, tokens: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(action logits, critic features, next state)`` of ``think_steps`` supervision
        steps from ``state`` (None: the initial state)."""
        z_H, next_state = self.body.think(tokens, state)
        logits, latent_vf = self.body.heads(tokens, z_H)
        return logits, latent_vf, next_state

    def extract_features(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        # One shared extractor; SB3's version also handles separate pi/vf extractors.
        return super().extract_features(obs, self.features_extractor)  # type: ignore[arg-type,return-value]


__all__ = ["GridTokens", "TRMPolicy", "grid_space", "infer_game", "policy_model_config"]
