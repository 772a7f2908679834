"""Baselines matched in parameters to a TRM: an MLP over the flattened grid and a residual
conv net over the 2-D grid. Both are one-shot predictors behind the TRM interface
(:class:`trm_rl.model.one_shot.OneShotModel`), so one trainer, evaluator and checkpoint format
serve all three kinds of model.

* :class:`MLPModel` ("direct prediction"): token embedding -> flatten the grid -> ReLU MLP ->
  per-cell logits. Tied to one ``seq_len``.
* :class:`ConvNetModel`: token embedding -> ``num_blocks`` pre-activation residual blocks
  ``h <- h + conv3x3(relu(layer_norm(h)))`` -> layer norm, ReLU -> per-cell logits. Local and
  without per-position weights, so it runs on grids of any size. (A pilot's reference: 20 blocks
  of 24 channels, ~105k parameters, found 93% of 11x11 maze paths in 10 CPU-minutes.)

:func:`matched_mlp_config` and :func:`matched_convnet_config` size them to a TRM's parameter
count (within 5% for every ``cpu-*`` preset). The layers are plain ``torch.nn`` (PyTorch's
default init): what a practitioner would write.

These classes live in :mod:`trm_rl.model` (and are re-exported by :mod:`baselines.models`) so
that checkpoints and :func:`trm_rl.model.build_model` can build every kind without importing
upward from ``trm_rl.model`` into the ``baselines`` package.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from envs.utils import check_float, check_int
from trm_rl.model.config import KIND_KEY, ForwardDtype, TRMConfig, without_kind
from trm_rl.model.one_shot import OneShotModel
from trm_rl.model.trm import TRM

_DTYPES = ("float32", "bfloat16")


class _BaselineConfig:
    """Shared behaviour of the baseline configs: validation helpers, dict round trip, and the
    read-only values the TRM's trainer and evaluator read from ``model.config``."""

    kind: ClassVar[str]
    any_grid_size: ClassVar[bool]
    _int_fields: ClassVar[dict[str, int]]  # field -> smallest accepted value

    act = True
    """Train the Q head (the ACT loss's BCE term): it predicts exact correctness."""
    halt_max_steps = 1
    """One prediction per example: every row halts after one step."""

    def _validate(self) -> None:
        name = type(self).__name__
        for field, low in self._int_fields.items():
            value = check_int(f"{name}.{field}", getattr(self, field), low=low)
            object.__setattr__(self, field, value)
        width = check_int(f"{name}.grid_width", self.grid_width, low=1, allow_none=True)
        object.__setattr__(self, "grid_width", width)
        if not (isinstance(self.forward_dtype, str) and self.forward_dtype in _DTYPES):
            raise ValueError(
                f"{name}: unknown forward_dtype {self.forward_dtype!r}; choose one of "
                f"{list(_DTYPES)}"
            )
        if width is not None and self.seq_len % width:
            raise ValueError(
                f"{name}: seq_len ({self.seq_len}) must be divisible by grid_width ({width}): "
                "seq_len = grid rows * grid_width"
            )

    @property
    def torch_dtype(self) -> torch.dtype:
        """``forward_dtype`` as a torch dtype."""
        return getattr(torch, self.forward_dtype)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields with the ``"kind"`` tag (JSON-serialisable)."""
        return {KIND_KEY: self.kind, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """Build from :meth:`to_dict` output; missing fields take their defaults.

        :raises ValueError: for another kind, unknown fields (listing the known ones) or invalid
            values.
        """
        data = without_kind(data, cls.kind, f"{cls.__name__}.from_dict")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted((k for k in data if k not in names), key=str)
        if unknown:
            raise ValueError(
                f"{cls.__name__}.from_dict: unknown fields {unknown}; known fields: {sorted(names)}"
            )
        return cls(**data)

    def replace(self, **changes: Any) -> Any:
        """A copy with some fields changed (validated again)."""
        return type(self).from_dict({**self.to_dict(), **changes})


# ------------------------------------------------------------------------------------------ MLP
@dataclass(frozen=True)
class MLPConfig(_BaselineConfig):
    """An MLP over the flattened grid ("direct prediction" baseline)."""

    kind: ClassVar[str] = "mlp"
    any_grid_size: ClassVar[bool] = False
    _int_fields: ClassVar[dict[str, int]] = {
        "vocab_size": 2, "seq_len": 1, "embed_dim": 1, "hidden_size": 1, "num_layers": 1,
    }  # fmt: skip

    vocab_size: int = 11
    """Number of token ids."""
    seq_len: int = 81
    """Grid tokens per example; the model accepts exactly ``[B, seq_len]`` inputs."""
    grid_width: int | None = None
    """Columns of the grid (documents the grid; the MLP does not use it)."""
    embed_dim: int = 8
    """Width of each token's embedding before the grid is flattened to seq_len * embed_dim."""
    hidden_size: int = 512
    """Width of every hidden layer."""
    num_layers: int = 2
    """Hidden layers (Linear + ReLU), before the output layer."""
    forward_dtype: ForwardDtype = "float32"
    """Activation dtype (bfloat16 runs under autocast; parameters stay float32)."""

    def __post_init__(self) -> None:
        self._validate()

    @property
    def num_parameters(self) -> int:
        """Parameter count of :class:`MLPModel` (computed, not built)."""
        s, e, h, v = self.seq_len, self.embed_dim, self.hidden_size, self.vocab_size
        layers = (s * e + 1) * h + (self.num_layers - 1) * (h + 1) * h + (h + 1) * s * v
        return v * e + layers + (h + 1) * 2  # + embedding, + Q head


class MLPModel(OneShotModel):
    """Token embedding -> flatten -> ``num_layers`` x (Linear, ReLU) -> Linear -> per-cell
    logits; the Q head reads the last hidden layer.

    :param config: the architecture.
    """

    def __init__(self, config: MLPConfig) -> None:
        if not isinstance(config, MLPConfig):
            raise ValueError(f"MLPModel needs an MLPConfig, got {type(config).__name__}")
        super().__init__(config, config.hidden_size)
        cfg = config
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim)
        widths = [cfg.seq_len * cfg.embed_dim] + [cfg.hidden_size] * cfg.num_layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(widths))
        self.out = nn.Linear(cfg.hidden_size, cfg.seq_len * cfg.vocab_size)

    def predict(
        self, inputs: torch.Tensor, grid: tuple[int, int] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # inputs: [B, S] -> logits [B, S, V], features [B, hidden]
        h = self.embed(inputs.long()).flatten(1)  # [B, S * E]
        for layer in self.hidden:
            h = F.relu(layer(h))
        logits = self.out(h).view(inputs.shape[0], self.config.seq_len, self.config.vocab_size)
        return logits, h


# ------------------------------------------------------------------------------------- conv net
@dataclass(frozen=True)
class ConvNetConfig(_BaselineConfig):
    """A residual convolutional net over the 2-D grid; runs on grids of any size."""

    kind: ClassVar[str] = "convnet"
    any_grid_size: ClassVar[bool] = True
    _int_fields: ClassVar[dict[str, int]] = {
        "vocab_size": 2, "seq_len": 1, "channels": 1, "num_blocks": 1,
    }  # fmt: skip

    vocab_size: int = 11
    """Number of token ids."""
    seq_len: int = 81
    """Cells of the grid it is built for (flat ``[B, seq_len]`` inputs); ``[B, H, W]`` inputs
    may have any size."""
    grid_width: int | None = 9
    """Columns of the grid; required (flat inputs are read as seq_len / grid_width rows)."""
    channels: int = 24
    """Width of every residual block."""
    num_blocks: int = 20
    """Residual blocks (one 3x3 conv each): the receptive field grows by 1 cell per block."""
    norm_eps: float = 1e-5
    """Epsilon of the per-cell layer norms."""
    forward_dtype: ForwardDtype = "float32"
    """Activation dtype (bfloat16 runs under autocast; parameters stay float32)."""

    def __post_init__(self) -> None:
        self._validate()
        if self.grid_width is None:
            raise ValueError(
                "ConvNetConfig: grid_width is required (the columns of the grid; seq_len "
                f"{self.seq_len} = rows * grid_width)"
            )
        eps = check_float("ConvNetConfig.norm_eps", self.norm_eps, low=0.0)
        if eps <= 0:
            raise ValueError(f"ConvNetConfig: norm_eps must be > 0, got {eps}")
        object.__setattr__(self, "norm_eps", eps)

    @property
    def num_parameters(self) -> int:
        """Parameter count of :class:`ConvNetModel` (computed, not built)."""
        c, v = self.channels, self.vocab_size
        blocks = self.num_blocks * (9 * c * c + 2 * c)  # conv + layer norm
        return v * c + blocks + 2 * c + (c + 1) * v + (c + 1) * 2  # + embed, norm, head, Q head


class ConvNetModel(OneShotModel):
    """Token embedding -> ``num_blocks`` x ``h <- h + conv3x3(relu(layer_norm(h)))`` ->
    layer norm, ReLU -> 1x1 head -> per-cell logits; the Q head reads the mean over the cells.

    The norms are per cell (over channels) and the convs zero-pad the edges, so nothing depends
    on the grid size: inputs ``[B, H, W]`` of any size, or ``[B, seq_len]`` read with
    ``grid_width`` columns.

    :param config: the architecture.
    """

    def __init__(self, config: ConvNetConfig) -> None:
        if not isinstance(config, ConvNetConfig):
            raise ValueError(f"ConvNetModel needs a ConvNetConfig, got {type(config).__name__}")
        super().__init__(config, config.channels)
        c, eps = config.channels, config.norm_eps
        self.embed = nn.Embedding(config.vocab_size, c)
        self.norms = nn.ModuleList(nn.LayerNorm(c, eps=eps) for _ in range(config.num_blocks))
        self.convs = nn.ModuleList(
            nn.Conv2d(c, c, kernel_size=3, padding=1, bias=False) for _ in range(config.num_blocks)
        )
        self.final_norm = nn.LayerNorm(c, eps=eps)
        self.head = nn.Linear(c, config.vocab_size)

    def predict(
        self, inputs: torch.Tensor, grid: tuple[int, int] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # inputs: [B, H, W] or [B, H * W] -> logits [B, H * W, V], features [B, C]
        rows, cols = grid
        h = self.embed(inputs.long()).view(inputs.shape[0], rows, cols, -1)  # [B, H, W, C]
        for norm, conv in zip(self.norms, self.convs, strict=True):
            # conv2d takes [B, C, H, W]; the permuted views are channels-last in memory.
            h = h + conv(F.relu(norm(h)).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        h = F.relu(self.final_norm(h)).flatten(1, 2)  # [B, H * W, C]
        return self.head(h), h.mean(dim=1)


# ------------------------------------------------------------------------------------- matching
#: Relative parameter-count gap the matching aims for.
MATCH_TOLERANCE = 0.05


def trm_parameters(config: TRMConfig) -> int:
    """Parameter count of ``TRM(config)`` (built on the meta device: no memory, no init)."""
    with torch.device("meta"):
        return TRM(config).num_parameters()


def _closest(target: int, count, low: int, high: int) -> int:
    """The ``x`` in ``[low, high]`` whose ``count(x)`` (increasing) is closest to ``target``."""
    while low < high:  # the smallest x with count(x) >= target
        mid = (low + high) // 2
        if count(mid) < target:
            low = mid + 1
        else:
            high = mid
    candidates = [x for x in (low - 1, low) if x >= 1]
    return min(candidates, key=lambda x: abs(count(x) - target))


def matched_mlp_config(trm_config: TRMConfig, num_layers: int = 2, embed_dim: int = 8) -> MLPConfig:
    """An :class:`MLPConfig` for the TRM's data whose parameter count is closest to the TRM's
    (the hidden width is solved for; within 1% for every ``cpu-*`` preset).

    :param trm_config: the TRM to match (vocabulary, grid and parameter count).
    :param num_layers: hidden layers.
    :param embed_dim: token embedding width.
    """
    if not isinstance(trm_config, TRMConfig):
        raise ValueError(f"matched_mlp_config needs a TRMConfig, got {type(trm_config).__name__}")
    base = MLPConfig(
        vocab_size=trm_config.vocab_size,
        seq_len=trm_config.seq_len,
        grid_width=trm_config.grid_width,
        embed_dim=embed_dim,
        num_layers=num_layers,
        forward_dtype=trm_config.forward_dtype,
    )
    target = trm_parameters(trm_config)
    width = _closest(
        target, lambda h: dataclasses.replace(base, hidden_size=h).num_parameters, 1, 1 << 20
    )
    return dataclasses.replace(base, hidden_size=width)


def matched_convnet_config(
    trm_config: TRMConfig,
    num_blocks: int = 20,
    channels: int | None = None,
    grid_width: int | None = None,
) -> ConvNetConfig:
    """A :class:`ConvNetConfig` for the TRM's data whose parameter count is close to the TRM's.

    The channel count is solved for ``num_blocks`` blocks; when no channel count comes within 5%
    (a channel costs ~18 * num_blocks * channels parameters), the block count moves to the
    nearest one that does. With ``channels`` given, the block count is solved instead.

    :param trm_config: the TRM to match (vocabulary, grid and parameter count).
    :param num_blocks: residual blocks (the pilot's 20 by default).
    :param channels: fix the width and solve for the depth.
    :param grid_width: columns of the grid (default: the TRM's ``grid_width``, else the side of
        a square ``seq_len``).
    :raises ValueError: when the grid width is unknown (give ``grid_width``).
    """
    if not isinstance(trm_config, TRMConfig):
        raise ValueError(
            f"matched_convnet_config needs a TRMConfig, got {type(trm_config).__name__}"
        )
    num_blocks = check_int("num_blocks", num_blocks, low=1)
    channels = check_int("channels", channels, low=1, allow_none=True)
    width = grid_width or trm_config.grid_width
    side = math.isqrt(trm_config.seq_len)
    if width is None and side * side == trm_config.seq_len:
        width = side
    if width is None:
        raise ValueError(
            f"matched_convnet_config: the TRM's seq_len {trm_config.seq_len} is not a square "
            "and its config has no grid_width; pass grid_width=<columns of the grid>"
        )
    base = ConvNetConfig(
        vocab_size=trm_config.vocab_size,
        seq_len=trm_config.seq_len,
        grid_width=width,
        num_blocks=num_blocks,
        forward_dtype=trm_config.forward_dtype,
    )
    target = trm_parameters(trm_config)

    def count(**changes: int) -> int:
        return dataclasses.replace(base, **changes).num_parameters

    if channels is not None:
        blocks = _closest(target, lambda n: count(channels=channels, num_blocks=n), 1, 1 << 20)
        return dataclasses.replace(base, channels=channels, num_blocks=blocks)

    def fitted(blocks: int) -> tuple[int, float]:
        c = _closest(target, lambda c: count(channels=c, num_blocks=blocks), 1, 1 << 16)
        return c, abs(count(channels=c, num_blocks=blocks) - target) / target

    best = None
    for offset in range(num_blocks + 64):  # blocks num_blocks, num_blocks +- 1, ...
        for blocks in sorted({num_blocks - offset, num_blocks + offset}):
            if blocks < 1:
                continue
            c, gap = fitted(blocks)
            if best is None or gap < best[2]:
                best = (blocks, c, gap)
        if best[2] <= MATCH_TOLERANCE:
            break
    return dataclasses.replace(base, num_blocks=best[0], channels=best[1])


__all__ = [
    "MATCH_TOLERANCE",
    "ConvNetConfig",
    "ConvNetModel",
    "MLPConfig",
    "MLPModel",
    "matched_convnet_config",
    "matched_mlp_config",
    "trm_parameters",
]
