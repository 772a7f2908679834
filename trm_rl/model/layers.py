"""Building blocks of the TRM reasoning network.

Everything is bias-free except the Q head, parameters are float32 and are cast to the activation
dtype at use ("casted" layers), and normalisation is a parameter-free RMSNorm computed in float32.
A block is post-norm::

    h = rms_norm(h + mixer(h))       # attention over tokens, an MLP over the sequence axis,
                                     # a 3x3 conv over the 2-D grid, or the Sudoku units
    h = rms_norm(h + mlp(h))         # SwiGLU (or ReLU) over the features
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from trm_rl.model.config import TRMConfig

CosSin = tuple[torch.Tensor, torch.Tensor]
Grid = tuple[int, int]  # (rows, columns) of the grid the token positions form


# ------------------------------------------------------------------------------- initialisation
def trunc_normal_(
    tensor: torch.Tensor, std: float = 1.0, lower: float = -2.0, upper: float = 2.0
) -> torch.Tensor:
    """Fill ``tensor`` in place from a normal truncated to ``[lower, upper]`` standard deviations
    whose *resulting* standard deviation is ``std`` (JAX/Flax ``truncated_normal`` semantics;
    ``torch.nn.init.trunc_normal_`` does not correct the std).

    Inverse-CDF sampling: draw ``u ~ U(erf(lower/sqrt2), erf(upper/sqrt2))``, map through
    ``sqrt2 * erfinv(u)``, and scale by ``std / std_of_the_truncated_unit_normal``.

    :param tensor: tensor to fill.
    :param std: target standard deviation; 0 fills zeros.
    :param lower: lower truncation point in units of the (uncorrected) std.
    :param upper: upper truncation point.
    :return: ``tensor``.
    """
    with torch.no_grad():
        if std == 0:
            return tensor.zero_()
        sqrt2 = math.sqrt(2.0)
        cdf_lo, cdf_hi = math.erf(lower / sqrt2), math.erf(upper / sqrt2)
        mass = (cdf_hi - cdf_lo) / 2  # probability mass inside [lower, upper]
        pdf_lo = math.exp(-0.5 * lower**2) / math.sqrt(2 * math.pi)
        pdf_hi = math.exp(-0.5 * upper**2) / math.sqrt(2 * math.pi)
        # Variance of the unit normal truncated to [lower, upper].
        trunc_var = 1 - (upper * pdf_hi - lower * pdf_lo) / mass - ((pdf_hi - pdf_lo) / mass) ** 2
        scale = std / math.sqrt(trunc_var)
        tensor.uniform_(cdf_lo, cdf_hi).erfinv_().mul_(sqrt2 * scale)
        return tensor.clamp_(lower * scale, upper * scale)


# ------------------------------------------------------------------------------------ primitives
def rms_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Parameter-free RMSNorm over the last axis, ``x / sqrt(mean(x^2) + eps)``, computed in
    float32 and cast back to the dtype of ``x``.

    Contiguous inputs use the fused ``F.rms_norm`` (bitwise equal to the formula, faster);
    strided ones (the transposed state of the sequence MLP) use the formula itself, whose
    summation order matches the official code exactly.
    """
    x32 = x.float()
    if x32.is_contiguous():
        out = F.rms_norm(x32, (x32.shape[-1],), eps=eps)
    else:
        out = x32 * torch.rsqrt(x32.square().mean(-1, keepdim=True) + eps)
    return out.to(x.dtype)


class CastedLinear(nn.Module):
    """Linear layer with float32 parameters cast to the input dtype; truncated LeCun init
    (std = 1/sqrt(in_features)); optional zero-initialised bias."""

    def __init__(self, in_features: int, out_features: int, bias: bool = False) -> None:
        """:param in_features: input width.
        :param out_features: output width.
        :param bias: add a (zero-initialised) bias.
        """
        super().__init__()
        self.weight = nn.Parameter(
            trunc_normal_(torch.empty(out_features, in_features), std=in_features**-0.5)
        )
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias.to(x.dtype) if self.bias is not None else None
        return F.linear(x, self.weight.to(x.dtype), bias)


class CastedEmbedding(nn.Module):
    """Embedding table with float32 parameters, looked up and cast to ``dtype``."""

    def __init__(self, num_embeddings: int, embedding_dim: int, init_std: float) -> None:
        """:param num_embeddings: rows.
        :param embedding_dim: width.
        :param init_std: std of the truncated-normal init.
        """
        super().__init__()
        self.weight = nn.Parameter(
            trunc_normal_(torch.empty(num_embeddings, embedding_dim), std=init_std)
        )

    def forward(self, ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return F.embedding(ids, self.weight.to(dtype))


class RotaryEmbedding(nn.Module):
    """Rotary position tables (rotate-half convention) for ``num_positions`` positions."""

    def __init__(self, head_dim: int, num_positions: int, base: float) -> None:
        """:param head_dim: width of one head (even).
        :param num_positions: prefix + grid positions (the prefix gets RoPE too).
        :param base: RoPE theta.
        """
        super().__init__()
        inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        angles = torch.outer(torch.arange(num_positions, dtype=torch.float32), inv_freq)
        angles = torch.cat((angles, angles), dim=-1)  # [L, head_dim]
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self) -> CosSin:
        return self.cos, self.sin


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate queries and keys ``[B, L, H, Dh]`` by position (computed in float32)."""
    cos, sin = cos.unsqueeze(-2), sin.unsqueeze(-2)  # [L, 1, Dh]
    q32, k32 = q.to(cos.dtype), k.to(cos.dtype)
    q_rot = q32 * cos + _rotate_half(q32) * sin
    k_rot = k32 * cos + _rotate_half(k32) * sin
    return q_rot.to(q.dtype), k_rot.to(k.dtype)


# --------------------------------------------------------------------------------------- mixers
class Attention(nn.Module):
    """Non-causal multi-head self-attention: fused bias-free QKV, optional RoPE, SDPA."""

    def __init__(self, hidden_size: int, num_heads: int) -> None:
        """:param hidden_size: model width.
        :param num_heads: number of heads (as many KV heads as query heads).
        """
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.qkv_proj = CastedLinear(hidden_size, 3 * hidden_size, bias=False)
        self.o_proj = CastedLinear(hidden_size, hidden_size, bias=False)

    def forward(self, h: torch.Tensor, cos_sin: CosSin | None) -> torch.Tensor:
        batch, length, width = h.shape
        qkv = self.qkv_proj(h).view(batch, length, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.unbind(dim=2)  # [B, L, H, Dh] each
        if cos_sin is not None:
            q, k = apply_rope(q, k, *cos_sin)
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=False
        )  # [B, H, L, Dh]
        return self.o_proj(out.transpose(1, 2).reshape(batch, length, width))


class GridConv(nn.Module):
    """Local token mixer: a depthwise 3x3 convolution over the 2-D grid, then a pointwise
    (1x1) projection; bias-free, zero padding at the grid edges.

    Why separable: a full 3x3 conv costs ``9 D^2`` weights and multiply-adds per cell (2.25x the
    attention mixer's ``4 D^2`` weights), whereas the depthwise + pointwise pair costs
    ``9 D + D^2``; the SwiGLU channel MLP that follows in every block already mixes channels
    non-linearly, which is the MobileNet/ConvNeXt recipe. Compute and memory grow linearly with
    the number of cells, and no weight depends on the grid size.
    """

    def __init__(self, hidden_size: int) -> None:
        """:param hidden_size: channels (model width)."""
        super().__init__()
        # [D, 1, 3, 3]: one 3x3 filter per channel; truncated LeCun init (fan-in 9).
        self.depthwise_weight = nn.Parameter(
            trunc_normal_(torch.empty(hidden_size, 1, 3, 3), std=1 / 3)
        )
        self.pointwise = CastedLinear(hidden_size, hidden_size, bias=False)

    def forward(self, h: torch.Tensor, grid: Grid) -> torch.Tensor:
        # h: [B, rows * cols, D] (row-major cells) -> [B, rows * cols, D]
        batch, cells, width = h.shape
        rows, cols = grid
        x = h.reshape(batch, rows, cols, width).permute(0, 3, 1, 2)  # [B, D, rows, cols]
        x = F.conv2d(x, self.depthwise_weight.to(h.dtype), padding=1, groups=width)
        return self.pointwise(x.permute(0, 2, 3, 1).reshape(batch, cells, width))


class UnitMixer(nn.Module):
    """Sudoku token mixer: every cell reads the mean of its peers in each of its three units
    (its row, its column and its box, without the cell itself)::

        mix(h)_c = W_row mean_{p in row(c) - {c}} h_p + W_col mean_{p in col(c) - {c}} h_p
                 + W_box mean_{p in box(c) - {c}} h_p

    i.e. one bias-free ``Linear(3D -> D)`` over the concatenated peer means, with weights
    shared by all units of a type (a DeepSets / message-passing step on the Sudoku constraint
    graph). Peer means carry what a cell needs (which digits its units hold, and, after a
    channel MLP, where else a digit may go); the cell's own state comes through the residual.

    Cost: the three ``D x D`` maps are applied to the N unit sums of each type and once to each
    cell (its own share, subtracted), so a layer costs ``(N^2 + 3N) D^2`` multiply-adds and
    ``3 D^2`` weights, linear in the cells. There is no per-position weight: the mixer is
    equivariant under every cell permutation that maps rows to rows, columns to columns and
    boxes to boxes (rows within a band, bands, columns within a stack, stacks).
    """

    def __init__(self, hidden_size: int, side: int, box: tuple[int, int]) -> None:
        """:param hidden_size: channels (model width).
        :param side: N, the board side (cells = N * N, row-major).
        :param box: (rows, cols) of a box; both divide N.
        """
        super().__init__()
        self.side, self.box = side, box
        self.cells = side * side
        # [D, 3D] = [W_row | W_col | W_box]: truncated LeCun init of a Linear(3D -> D).
        self.weight = nn.Parameter(
            trunc_normal_(torch.empty(hidden_size, 3 * hidden_size), std=(3 * hidden_size) ** -0.5)
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        # h: [B, N * N, D] (row-major cells) -> [B, N * N, D]
        batch, cells, width = h.shape
        n, (box_rows, box_cols) = self.side, self.box
        bands, stacks = n // box_rows, n // box_cols
        w_row, w_col, w_box = self.weight.to(h.dtype).chunk(3, dim=1)  # [D, D] each
        g = h.reshape(batch, n, n, width)  # [B, row, col, D]
        rows = F.linear(g.sum(2), w_row)  # [B, N, D]: W_row (sum of row r)
        cols = F.linear(g.sum(1), w_col)  # [B, N, D]: W_col (sum of column c)
        boxes = F.linear(
            g.reshape(batch, bands, box_rows, stacks, box_cols, width).sum((2, 4)), w_box
        )  # [B, bands, stacks, D]
        units = (rows[:, :, None] + cols[:, None]).view(
            batch, bands, box_rows, stacks, box_cols, width
        ) + boxes[:, :, None, :, None]  # each cell: its three projected unit sums
        own = F.linear(g, w_row + w_col + w_box)  # each cell's own share of its three sums
        return (units.reshape(batch, n, n, width) - own).reshape(batch, cells, width) / (n - 1)


class SwiGLU(nn.Module):
    """``down(silu(gate) * up)`` over the last axis, with one fused bias-free ``gate_up``
    projection."""

    def __init__(self, dim: int, width: int) -> None:
        """:param dim: size of the last axis (features; positions for the sequence MLP).
        :param width: intermediate width (see :func:`trm_rl.model.config.mlp_width`).
        """
        super().__init__()
        self.gate_up_proj = CastedLinear(dim, 2 * width, bias=False)
        self.down_proj = CastedLinear(width, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)


class ReLUMLP(nn.Module):
    """``down(relu(up(x)))`` over the last axis (ablation of the SwiGLU)."""

    def __init__(self, dim: int, width: int) -> None:
        """:param dim: size of the last axis.
        :param width: intermediate width.
        """
        super().__init__()
        self.up_proj = CastedLinear(dim, width, bias=False)
        self.down_proj = CastedLinear(width, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.relu(self.up_proj(x)))


def make_mlp(dim: int, width: int, mlp_type: str) -> nn.Module:
    """SwiGLU or ReLU MLP over the last axis (``mlp_type`` in {"swiglu", "relu"})."""
    return (SwiGLU if mlp_type == "swiglu" else ReLUMLP)(dim, width)


# ------------------------------------------------------------------------------ blocks and net
class Block(nn.Module):
    """One post-norm layer: token mixer (attention, MLP over positions, 3x3 conv over the grid,
    or Sudoku unit peers) + channel MLP."""

    def __init__(self, config: TRMConfig) -> None:
        super().__init__()
        self.eps = config.rms_norm_eps
        self.mixer = config.mixer
        if config.mixer == "attention":
            self.attn = Attention(config.hidden_size, config.num_heads)
        elif config.mixer == "conv":
            self.conv = GridConv(config.hidden_size)
        elif config.mixer == "units":
            side, *box = config.sudoku_board
            self.units = UnitMixer(config.hidden_size, side, tuple(box))
        else:
            self.seq_mlp = make_mlp(config.total_len, config.seq_mlp_width, config.mlp_type)
        self.mlp = make_mlp(config.hidden_size, config.mlp_width, config.mlp_type)

    def forward(
        self, h: torch.Tensor, cos_sin: CosSin | None, grid: Grid | None = None
    ) -> torch.Tensor:
        # h: [B, L, D]; grid: (rows, cols) of the last rows * cols positions (conv mixer only)
        if self.mixer == "attention":
            h = rms_norm(h + self.attn(h, cos_sin), self.eps)
        elif self.mixer == "conv":
            # The prefix positions (if any) lie outside the grid: the conv does not see them
            # and adds nothing to them, so they only go through the norms and the channel MLP.
            if grid is None:
                raise ValueError("the conv mixer needs grid=(rows, cols) of the grid positions")
            prefix = h.shape[1] - grid[0] * grid[1]
            h = rms_norm(h + _after_prefix(self.conv(h[:, prefix:], grid), prefix), self.eps)
        elif self.mixer == "units":  # the prefix stays outside the board, as with the conv
            prefix = h.shape[1] - self.units.cells
            h = rms_norm(h + _after_prefix(self.units(h[:, prefix:]), prefix), self.eps)
        else:
            # Mix positions: an MLP over the sequence axis of the transposed state. Official
            # quirk kept: the norm is taken while transposed, i.e. over positions (per channel).
            h_t = h.transpose(1, 2)  # [B, D, L]
            h = rms_norm(h_t + self.seq_mlp(h_t), self.eps).transpose(1, 2)
        return rms_norm(h + self.mlp(h), self.eps)


def _after_prefix(mixed: torch.Tensor, prefix: int) -> torch.Tensor:
    """The grid mixer's output ``[B, cells, D]`` with zeros in front for ``prefix`` positions."""
    return F.pad(mixed, (0, 0, prefix, 0)) if prefix else mixed


class ReasoningNet(nn.Module):
    """The tiny network ``net(h, injection)``: add the input injection, then ``num_layers`` blocks.

    The same network computes the latent update (injection ``z_H + x``) and the answer update
    (injection ``z_L``); the presence of ``x`` is what tells it which job it is doing.
    """

    def __init__(self, config: TRMConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.rotary = (
            RotaryEmbedding(config.head_dim, config.total_len, config.rope_theta)
            if config.pos_encodings == "rope" and config.mixer == "attention"
            else None
        )

    def forward(
        self, h: torch.Tensor, injection: torch.Tensor | None = None, grid: Grid | None = None
    ) -> torch.Tensor:
        # h, injection: [B, L, D]; grid: (rows, cols) of the grid positions (conv mixer only)
        if injection is not None:
            h = h + injection
        cos_sin = self.rotary() if self.rotary is not None else None
        for layer in self.layers:
            h = layer(h, cos_sin, grid)
        return h
