"""Layers: init, RMSNorm, RoPE, attention, SwiGLU / sequence MLP, blocks."""

from __future__ import annotations

import math

import pytest
import torch

from trm_rl.model import TRMConfig
from trm_rl.model.layers import (
    Attention,
    Block,
    CastedLinear,
    RotaryEmbedding,
    apply_rope,
    rms_norm,
    trunc_normal_,
)


@pytest.mark.parametrize("std", [1.0, 0.05])
def test_trunc_normal_matches_jax_semantics(std: float) -> None:
    torch.manual_seed(0)
    x = trunc_normal_(torch.empty(200_000), std=std)
    assert x.abs().max() <= 2 * std / 0.8796 + 1e-6  # clipped at 2 corrected stds
    assert abs(x.std().item() - std) < 0.01 * std  # the *resulting* std is the target
    assert abs(x.mean().item()) < 0.01 * std
    assert torch.count_nonzero(trunc_normal_(torch.empty(10), std=0.0)) == 0


def test_casted_linear_init_and_cast() -> None:
    torch.manual_seed(0)
    layer = CastedLinear(400, 300, bias=True)
    assert abs(layer.weight.std().item() - 400**-0.5) < 0.02 * 400**-0.5
    assert torch.count_nonzero(layer.bias) == 0
    out = layer(torch.randn(2, 400, dtype=torch.bfloat16))
    assert out.dtype == torch.bfloat16 and layer.weight.dtype == torch.float32


def test_rms_norm() -> None:
    x = torch.randn(3, 5, 8)
    ref = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5)
    torch.testing.assert_close(rms_norm(x, 1e-5), ref)
    out = rms_norm(x.bfloat16(), 1e-5)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, atol=2e-2, rtol=2e-2)


def test_rope_rotates_pairs_and_preserves_norm() -> None:
    rope = RotaryEmbedding(head_dim=8, num_positions=6, base=10000.0)
    cos, sin = rope()
    assert cos.shape == (6, 8)
    q, k = torch.randn(2, 6, 3, 8), torch.randn(2, 6, 3, 8)
    q_rot, k_rot = apply_rope(q, k, cos, sin)
    torch.testing.assert_close(q_rot[:, 0], q[:, 0])  # position 0: identity
    torch.testing.assert_close(q_rot.norm(dim=-1), q.norm(dim=-1))
    # Rotate-half convention: dims (i, i + Dh/2) rotate together by angle pos * base^(-2i/Dh).
    angle = 3 * 10000.0 ** (-2 * 1 / 8)
    x1, x2 = q[:, 3, :, 1], q[:, 3, :, 5]
    torch.testing.assert_close(q_rot[:, 3, :, 1], x1 * math.cos(angle) - x2 * math.sin(angle))
    # Relative positions: <R_m q, R_n k> depends on m - n only.
    dots = (q_rot[:, 1:3] * k_rot[:, 1:3]).sum(-1)
    q_s, k_s = apply_rope(q[:, 1:3], k[:, 1:3], cos[3:5], sin[3:5])
    torch.testing.assert_close(dots, (q_s * k_s).sum(-1), rtol=1e-4, atol=1e-4)


def test_attention_is_non_causal_and_matches_reference() -> None:
    torch.manual_seed(0)
    attn = Attention(hidden_size=16, num_heads=2)
    h = torch.randn(2, 5, 16)
    out = attn(h, None)
    q, k, v = attn.qkv_proj(h).view(2, 5, 3, 2, 8).unbind(2)
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(8)
    ref = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v).reshape(2, 5, 16)
    torch.testing.assert_close(out, attn.o_proj(ref), rtol=1e-5, atol=1e-5)
    h2 = h.clone()
    h2[:, -1] += 1.0  # the last position influences the first one
    assert not torch.allclose(attn(h2, None)[:, 0], out[:, 0])


def test_mlp_block_normalises_over_positions() -> None:
    cfg = TRMConfig(
        mixer="mlp", pos_encodings="none", hidden_size=8, num_heads=2, seq_len=5,
        puzzle_emb_len=1, swiglu_multiple=1,
    )  # fmt: skip
    block = Block(cfg)
    h = torch.randn(2, cfg.total_len, 8)
    h_t = h.transpose(1, 2)  # the sequence MLP mixes positions; the norm is over positions
    mid = rms_norm(h_t + block.seq_mlp(h_t), cfg.rms_norm_eps).transpose(1, 2)
    ref = rms_norm(mid + block.mlp(mid), cfg.rms_norm_eps)
    torch.testing.assert_close(block(h, None), ref)
    # After the sequence-MLP norm each channel has unit RMS over the positions.
    torch.testing.assert_close(mid.pow(2).mean(1), torch.ones(2, 8), rtol=1e-4, atol=1e-4)
