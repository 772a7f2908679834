"""Numerical parity with the official TinyRecursiveModels code (optional).

Runs only when ``TRM_OFFICIAL_REPO`` points at a checkout of
``SamsungSAILMontreal/TinyRecursiveModels`` and ``pydantic`` + ``einops`` are importable (the
official model imports them), e.g. in a throwaway venv::

    TRM_OFFICIAL_REPO=/path/to/TinyRecursiveModels python -m pytest tests/test_model_official_parity.py

The official model is built from ``TRMConfig.to_official()``, its state dict imported into ours
with ``load_official_state_dict``; then both run the same ACT steps (training mode, same RNG
seed per step, so exploration draws agree) and we compare outputs, carries, losses, metrics and
gradients.
"""

from __future__ import annotations

import importlib
import os
import sys

import pytest
import torch

from trm_rl.model import TRM, TRMConfig
from trm_rl.model.checkpoint import from_official_key, load_official_state_dict
from trm_rl.model.losses import act_loss

OFFICIAL_REPO = os.environ.get("TRM_OFFICIAL_REPO")
pytestmark = pytest.mark.skipif(
    not OFFICIAL_REPO, reason="set TRM_OFFICIAL_REPO to an official TinyRecursiveModels checkout"
)

SMALL = dict(
    vocab_size=7,
    seq_len=20,
    hidden_size=64,
    num_heads=4,
    num_layers=2,
    H_cycles=3,
    L_cycles=2,
    halt_max_steps=4,
    halt_exploration_prob=0.5,
    puzzle_emb_len=4,
    puzzle_emb_ndim=64,
    num_puzzle_identifiers=3,
    swiglu_multiple=256,
)
CASES = {
    "attention-rope": dict(mixer="attention", pos_encodings="rope"),
    "mlp-none": dict(mixer="mlp", pos_encodings="none"),
    "attention-learned": dict(mixer="attention", pos_encodings="learned"),
    "single-z": dict(mixer="attention", pos_encodings="rope", single_z=True),
}


def _official_modules():
    pytest.importorskip("pydantic")
    pytest.importorskip("einops")
    if OFFICIAL_REPO not in sys.path:
        sys.path.insert(0, OFFICIAL_REPO)
    trm = importlib.import_module("models.recursive_reasoning.trm")
    singlez = importlib.import_module("models.recursive_reasoning.trm_singlez")
    losses = importlib.import_module("models.losses")
    return trm, singlez, losses


def _batch(cfg: TRMConfig, size: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    inputs = torch.randint(1, cfg.vocab_size, (size, cfg.seq_len), generator=gen)
    labels = torch.randint(1, cfg.vocab_size, (size, cfg.seq_len), generator=gen)
    labels[:, :3] = -100
    labels[0] = inputs[0]  # give the exact-correctness branch a chance
    ids = torch.randint(0, cfg.num_puzzle_identifiers, (size,), generator=gen).to(torch.int32)
    return {"inputs": inputs.to(torch.int32), "labels": labels, "puzzle_identifiers": ids}


def run_parity(cfg: TRMConfig, batch_size: int = 3, num_steps: int = 5) -> dict[str, float]:
    """Build both models with the same weights, run ``num_steps`` ACT steps, return max abs diffs."""
    trm_mod, singlez_mod, losses_mod = _official_modules()
    official_cls = (singlez_mod if cfg.single_z else trm_mod).TinyRecursiveReasoningModel_ACTV1
    torch.manual_seed(0)
    official = losses_mod.ACTLossHead(
        official_cls(cfg.to_official(batch_size=batch_size)), "stablemax_cross_entropy"
    )
    with torch.no_grad():  # a non-zero puzzle table exercises the prefix path
        official.model.inner.puzzle_emb.weights.normal_()
    ours = TRM(cfg)
    load_official_state_dict(ours, official.state_dict())

    gen = torch.Generator().manual_seed(1)
    diffs: dict[str, float] = {}

    def record(name: str, a: torch.Tensor, b: torch.Tensor) -> None:
        d = (a.double() - b.double()).abs().max().item() if a.numel() else 0.0
        diffs[name] = max(diffs.get(name, 0.0), d)

    for training in (True, False):
        official.train(training)
        ours.train(training)
        batch = _batch(cfg, batch_size, gen)
        carry_o = official.initial_carry(batch)
        carry_u = ours.initial_carry(batch)
        for step in range(num_steps):
            batch = _batch(cfg, batch_size, gen)
            torch.manual_seed(100 + step)
            carry_o, loss_o, metrics_o, out_o, _ = official(
                return_keys=["logits"], carry=carry_o, batch=batch
            )
            torch.manual_seed(100 + step)
            carry_u, out_u = ours(carry_u, batch)
            res = act_loss(out_u, carry_u)
            res64 = act_loss(out_u, carry_u, precision="float64")
            assert torch.equal(carry_o.halted, carry_u.halted), "halting decisions differ"
            assert torch.equal(carry_o.steps, carry_u.steps)
            record("logits", out_o["logits"], out_u["logits"])
            record("z_H", carry_o.inner_carry.z_L if cfg.single_z else carry_o.inner_carry.z_H,
                   carry_u.inner.z_H)  # fmt: skip
            record("z_L", carry_o.inner_carry.z_L, carry_u.inner.z_L)
            record("loss (float32 stablemax)", loss_o, res.loss)
            record("loss (float64 stablemax)", loss_o, res64.loss)
            for key in ("count", "exact_accuracy", "q_halt_accuracy", "steps", "accuracy"):
                record(f"metric {key}", metrics_o[key].double(), res.metrics[key].double())
            if training:
                official.zero_grad()
                ours.zero_grad()
                loss_o.backward()
                res.loss.backward()
                grads_o = {
                    from_official_key(k): p.grad
                    for k, p in official.named_parameters()
                    if p.grad is not None
                }
                for name, p in ours.named_parameters():
                    assert (p.grad is None) == (name not in grads_o), name
                    if p.grad is not None:
                        record("grad", grads_o[name], p.grad)
                local = official.model.inner.puzzle_emb.local_weights.grad
                record("puzzle_emb grad", local, ours.puzzle_emb.local_weight.grad)
                official.model.inner.puzzle_emb.local_weights.grad = None
    return diffs


@pytest.mark.parametrize("case", list(CASES))
def test_parity_small_configs(case: str) -> None:
    cfg = TRMConfig(**SMALL, **CASES[case])
    diffs = run_parity(cfg)
    print(case, diffs)
    for name, value in diffs.items():
        assert value < 1e-5, f"{case}: {name} differs by {value}"


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["paper-sudoku-mlp", "paper-sudoku-att"])
def test_parity_paper_presets(preset: str) -> None:
    cfg = TRMConfig.preset(preset, forward_dtype="float32", halt_max_steps=2)
    diffs = run_parity(cfg, batch_size=2, num_steps=2)
    print(preset, diffs)
    for name, value in diffs.items():
        assert value < 1e-3, f"{preset}: {name} differs by {value}"
