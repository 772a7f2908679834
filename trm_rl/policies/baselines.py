"""Stable-Baselines3 baseline policies for MaskablePPO, matched in parameters to a TRM policy.

Both are SB3 features extractors (the documented hook), so a baseline is plain
``policy_kwargs`` for ``MaskablePPO("MultiInputPolicy", venv, policy_kwargs=...)`` and saves
and loads like any SB3 model. Observations are ``Dict(grid=Box(0, V - 1, (H, W), uint8),
action_mask=MultiBinary(A))``; the extractors read ``grid`` only (MaskablePPO applies the masks).

* :class:`OneHotGridExtractor`: the one-hot grid, flattened (``H * W * V`` features), under
  SB3's MLP (``net_arch=dict(pi=[w, w], vf=[w, w])``): the "MLP over the flattened grid".
* :class:`ResidualConvExtractor`: token embedding -> ``blocks`` pre-activation residual blocks
  ``h <- h + conv3x3(relu(layer_norm(h)))`` (the block of the supervised
  :class:`~trm_rl.model.baselines.ConvNetModel`; each grows the receptive field by one cell)
  -> layer norm, ReLU -> a readout (see the class).

:func:`matched_mlp_policy_kwargs` and :func:`matched_conv_policy_kwargs` size them to a
parameter budget (the whole policy: extractor, MLP heads, action and value nets), within 5%::

    target = count_policy_params(venv.observation_space, venv.action_space, trm_policy_kwargs)
    kwargs = matched_conv_policy_kwargs(target, venv.observation_space, venv.action_space)
    model = MaskablePPO("MultiInputPolicy", venv, policy_kwargs=kwargs)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from gymnasium import spaces
from sb3_contrib.common.maskable.policies import MaskableMultiInputActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from envs.maze.types import START
from envs.utils import check_choice, check_float, check_int
from trm_rl.model.baselines import MATCH_TOLERANCE

__all__ = [
    "MATCH_TOLERANCE",
    "OneHotGridExtractor",
    "ResidualConvExtractor",
    "count_policy_params",
    "matched_conv_policy_kwargs",
    "matched_mlp_policy_kwargs",
]

READOUTS = ("auto", "agent", "cells")


def _grid_space(observation_space: Any) -> tuple[int, int, int, int]:
    """``(H, W, V, A)`` of a trm_rl observation space: grid shape, vocabulary, mask size.

    :raises ValueError: unless it is ``Dict(grid=Box (H, W), action_mask=MultiBinary(A))``.
    """
    ok = (
        isinstance(observation_space, spaces.Dict)
        and isinstance(observation_space.spaces.get("grid"), spaces.Box)
        and len(observation_space["grid"].shape) == 2
        and isinstance(observation_space.spaces.get("action_mask"), spaces.MultiBinary)
    )
    if not ok:
        raise ValueError(
            "expected a trm_rl observation space Dict(grid=Box(0, V-1, (H, W)), "
            f"action_mask=MultiBinary(A)), got {observation_space}; pass "
            "venv.observation_space of a trm_rl env"
        )
    h, w = observation_space["grid"].shape
    vocab = int(observation_space["grid"].high.max()) + 1
    return int(h), int(w), vocab, int(observation_space["action_mask"].n)


class OneHotGridExtractor(BaseFeaturesExtractor):
    """The grid tokens one-hot encoded and flattened: ``features_dim = H * W * V``.

    No parameters of its own: SB3's ``net_arch`` MLP on top is the whole model.

    :param observation_space: a trm_rl ``Dict(grid=..., action_mask=...)`` space.
    """

    def __init__(self, observation_space: spaces.Dict) -> None:
        h, w, vocab, _ = _grid_space(observation_space)
        super().__init__(observation_space, h * w * vocab)
        self.vocab = vocab

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        tokens = observations["grid"].long()  # [B, H, W] (SB3 hands Box observations as float)
        return F.one_hot(tokens, self.vocab).flatten(1).float()  # [B, H * W * V]


class ResidualConvExtractor(BaseFeaturesExtractor):
    """Residual 3x3 conv net over the token grid, with a readout suited to the game.

    Trunk: ``nn.Embedding(V, channels)`` -> ``blocks`` x ``h <- h + conv3x3(relu(norm(h)))``
    (per-cell layer norm, padding 1, no bias) -> norm, ReLU. Readouts:

    - ``"agent"`` (Maze): the channels at the agent's cell (token ``S``) and their mean over
      all cells: ``features_dim = 2 * channels``, independent of the grid size.
    - ``"cells"`` (Sudoku, whose actions are per cell): a per-cell linear map (a 1x1 conv) to
      ``cell_channels`` values, flattened cell-major, and the mean over the cells:
      ``features_dim = H * W * cell_channels + channels``.

    :param observation_space: a trm_rl ``Dict(grid=..., action_mask=...)`` space.
    :param channels: width of the trunk.
    :param blocks: residual blocks (receptive field: ``blocks`` cells each way).
    :param readout: ``"agent"``, ``"cells"`` or ``"auto"`` (``"agent"`` when the action mask
        has 4 entries, i.e. a maze, else ``"cells"``).
    :param cell_channels: values per cell of the ``"cells"`` readout; default: actions per cell
        (N for an N x N Sudoku).
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        channels: int = 32,
        blocks: int = 8,
        readout: Literal["auto", "agent", "cells"] = "auto",
        cell_channels: int | None = None,
    ) -> None:
        h, w, vocab, num_actions = _grid_space(observation_space)
        channels = check_int("channels", channels, low=1)
        blocks = check_int("blocks", blocks, low=0)
        readout = check_choice("readout", readout, READOUTS)
        if readout == "auto":
            readout = "agent" if num_actions == 4 else "cells"
        if cell_channels is None:
            cell_channels = max(1, num_actions // (h * w))
        cell_channels = check_int("cell_channels", cell_channels, low=1)
        cells = h * w * cell_channels if readout == "cells" else channels
        super().__init__(observation_space, cells + channels)
        self.readout = readout
        self.embed = nn.Embedding(vocab, channels)
        self.norms = nn.ModuleList(nn.LayerNorm(channels) for _ in range(blocks))
        self.convs = nn.ModuleList(
            nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
            for _ in range(blocks)
        )
        self.final_norm = nn.LayerNorm(channels)
        self.cell_head = nn.Linear(channels, cell_channels) if readout == "cells" else None

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        tokens = observations["grid"].long()  # [B, H, W]
        h = self.embed(tokens)  # [B, H, W, C]
        for norm, conv in zip(self.norms, self.convs, strict=True):
            # conv2d takes [B, C, H, W]; the permuted views are channels-last in memory.
            h = h + conv(F.relu(norm(h)).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        h = F.relu(self.final_norm(h)).flatten(1, 2)  # [B, H * W, C]
        pooled = h.mean(dim=1)  # [B, C]
        if self.cell_head is None:  # the agent's cell: the first S (row 0 if there is none)
            agent = (tokens.flatten(1) == START).float().argmax(dim=1)  # [B]
            return torch.cat([h[torch.arange(len(h), device=h.device), agent], pooled], dim=1)
        return torch.cat([self.cell_head(h).flatten(1), pooled], dim=1)  # [B, H*W*k + C]


# ------------------------------------------------------------------------------------- matching
def count_policy_params(
    observation_space: spaces.Space,
    action_space: spaces.Space,
    policy_kwargs: dict[str, Any] | None = None,
    *,
    policy_class: type = MaskableMultiInputActorCriticPolicy,
) -> int:
    """Parameters of the policy ``MaskablePPO("MultiInputPolicy", env, policy_kwargs=...)``
    builds: ``sum(p.numel() for p in model.policy.parameters())``, without an env or a model.

    :param observation_space: the env's (single-env) observation space.
    :param action_space: the env's (single-env) action space.
    :param policy_kwargs: as given to the algorithm.
    :param policy_class: the policy class (MaskablePPO's ``"MultiInputPolicy"`` by default).
    """
    # Neither the init nor the optimizer changes the count; skipping them keeps a search fast
    # (the first torch optimizer of a process imports torch._dynamo: seconds).
    kwargs = {**(policy_kwargs or {}), "ortho_init": False, "optimizer_class": _no_optimizer}
    policy = policy_class(observation_space, action_space, lambda _: 0.0, **kwargs)
    return sum(p.numel() for p in policy.parameters())


def _no_optimizer(params: Any, **kwargs: Any) -> None:
    """Stands in for the optimizer of a policy built only to be counted."""
    return None


def _solve(count: Callable[[int], int], target: int, low: int = 1) -> int:
    """The ``x >= low`` whose ``count(x)`` (increasing) is closest to ``target``: doubling up
    to a bracket, then bisection, so no candidate is built much larger than the target."""
    high = low
    while count(high) < target:
        low, high = high, 2 * high
    while low < high:  # the smallest x in the bracket with count(x) >= target
        mid = (low + high) // 2
        if count(mid) < target:
            low = mid + 1
        else:
            high = mid
    return min((x for x in (low - 1, low) if x >= 1), key=lambda x: abs(count(x) - target))


def _check_match(target: Any, action_space: Any, tolerance: Any) -> tuple[int, float]:
    target = check_int("target_params", target, low=1)
    tolerance = check_float("tolerance", tolerance, low=0.0)
    if not isinstance(action_space, spaces.Discrete):
        raise ValueError(f"expected a Discrete action space, got {action_space}")
    return target, tolerance


def matched_mlp_policy_kwargs(
    target_params: int,
    observation_space: spaces.Dict,
    action_space: spaces.Discrete,
    *,
    tolerance: float = MATCH_TOLERANCE,
) -> dict[str, Any]:
    """``policy_kwargs`` of the flattened-grid MLP baseline with about ``target_params``
    policy parameters: :class:`OneHotGridExtractor` and ``net_arch=dict(pi=[w, w],
    vf=[w, w])`` (SB3's Tanh), the width ``w`` solved for by bisection.

    :param target_params: the budget (e.g. the TRM policy's count).
    :param observation_space: a trm_rl observation space.
    :param action_space: its ``Discrete`` action space.
    :param tolerance: largest accepted relative gap.
    :raises ValueError: when no width comes within ``tolerance`` (a budget below the width-1
        policy, whose count the message gives).
    """
    target, tolerance = _check_match(target_params, action_space, tolerance)
    _grid_space(observation_space)

    def kwargs(width: int) -> dict[str, Any]:
        arch = dict(pi=[width, width], vf=[width, width])
        return dict(features_extractor_class=OneHotGridExtractor, net_arch=arch)

    count = functools.cache(
        lambda w: count_policy_params(observation_space, action_space, kwargs(w))
    )
    width = _solve(count, target)
    gap = abs(count(width) - target) / target
    if gap > tolerance:
        raise ValueError(
            f"no MLP width comes within {tolerance:.0%} of {target} parameters (closest: width "
            f"{width}, {count(width)} parameters); the smallest MLP policy has {count(1)}"
        )
    return kwargs(width)


def matched_conv_policy_kwargs(
    target_params: int,
    observation_space: spaces.Dict,
    action_space: spaces.Discrete,
    *,
    blocks: int = 8,
    head_width: int = 64,
    readout: Literal["auto", "agent", "cells"] = "auto",
    tolerance: float = MATCH_TOLERANCE,
) -> dict[str, Any]:
    """``policy_kwargs`` of the residual conv baseline with about ``target_params`` policy
    parameters: :class:`ResidualConvExtractor` under one hidden layer of ``head_width`` per
    head (``net_arch=dict(pi=[head_width], vf=[head_width])``).

    Search: the channel count is solved for (bisection) with ``blocks`` blocks; when no channel
    count comes within ``tolerance`` (one more channel costs about ``18 * blocks * channels``
    parameters), the block count moves away from ``blocks`` (-1, +1, -2, +2, ...) until one does.

    :param target_params: the budget (e.g. the TRM policy's count).
    :param observation_space: a trm_rl observation space.
    :param action_space: its ``Discrete`` action space.
    :param blocks: preferred residual blocks.
    :param head_width: hidden width of the actor and critic heads.
    :param readout: see :class:`ResidualConvExtractor`.
    :param tolerance: largest accepted relative gap.
    :raises ValueError: when no (blocks, channels) comes within ``tolerance``, e.g. a budget
        below the heads alone (lower ``head_width`` then).
    """
    target, tolerance = _check_match(target_params, action_space, tolerance)
    blocks = check_int("blocks", blocks, low=1)
    head_width = check_int("head_width", head_width, low=1)
    check_choice("readout", readout, READOUTS)
    _grid_space(observation_space)

    def kwargs(num_blocks: int, channels: int) -> dict[str, Any]:
        return dict(
            features_extractor_class=ResidualConvExtractor,
            features_extractor_kwargs=dict(channels=channels, blocks=num_blocks, readout=readout),
            net_arch=dict(pi=[head_width], vf=[head_width]),
        )

    @functools.cache
    def count(num_blocks: int, channels: int) -> int:
        return count_policy_params(observation_space, action_space, kwargs(num_blocks, channels))

    best: tuple[float, int, int] | None = None
    for offset in range(blocks + 16):
        for num_blocks in sorted({blocks - offset, blocks + offset}):
            if num_blocks < 1:
                continue
            channels = _solve(lambda c, b=num_blocks: count(b, c), target)
            gap = abs(count(num_blocks, channels) - target) / target
            if best is None or gap < best[0]:
                best = (gap, num_blocks, channels)
        if best[0] <= tolerance:
            return kwargs(best[1], best[2])
    gap, num_blocks, channels = best
    raise ValueError(
        f"no conv policy comes within {tolerance:.0%} of {target} parameters (closest: "
        f"{num_blocks} blocks of {channels} channels, {count(num_blocks, channels)} "
        f"parameters; one channel, one block: {count(1, 1)}); lower head_width (now "
        f"{head_width}) or raise the budget"
    )
