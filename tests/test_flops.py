"""FLOPs estimates from configs: the counter, the supervised step, inference, PPO and the cache."""

from __future__ import annotations

import dataclasses
import random
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from trm_rl import flops
from trm_rl.flops import (
    count_flops,
    ppo_env_step_flops,
    run_flops,
    supervised_inference_flops,
    supervised_step_flops,
)
from trm_rl.policies.config import PPOConfig, ppo_args, resolve_ppo
from trm_rl.supervised.config import OptimConfig, TrainConfig, resolve_train, train_args

SUDOKU_ENV = "trm_rl/Sudoku-4x4-v0"
OPTIM_FIELDS = {f.name for f in dataclasses.fields(OptimConfig)}


def sup(**kwargs) -> TrainConfig:
    """A sudoku-4x4 recipe run with a small batch (FLOPs are linear in it); optimiser fields
    (``batch_size``) may be given flat."""
    optim = {"batch_size": 8}
    run = {"steps": 1}
    for key, value in kwargs.items():
        (optim if key in OPTIM_FIELDS else run)[key] = value
    return resolve_train(train_args("sudoku-4x4", optim=optim, **run))


def ppo(policy: str, **kwargs) -> PPOConfig:
    settings = {"n_envs": 2, "n_steps": 8, "batch_size": 16}
    return resolve_ppo(ppo_args(SUDOKU_ENV, policy=policy, timesteps=1, ppo=settings, **kwargs))


# ---------------------------------------------------------------------------------- counter
def test_count_flops_of_a_linear_layer_is_two_per_multiply_add() -> None:
    layer = nn.Linear(7, 5)
    x = torch.randn(3, 7)
    with torch.no_grad():
        assert count_flops(lambda: layer(x)) == 2 * 7 * 5 * 3


@pytest.mark.parametrize("input_grad", [True, False])
def test_depthwise_conv_backward_counts_each_weight_once(input_grad: bool) -> None:
    channels, batch, side = 8, 2, 5
    conv = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
    x = torch.randn(batch, channels, side, side, requires_grad=input_grad)
    forward = 2 * batch * side * side * channels * 9  # w: [C, 1, 3, 3]
    # backward: the weight gradient costs a forward, the input gradient another when asked for
    expected = forward * (3 if input_grad else 2)
    assert count_flops(lambda: conv(x).sum().backward()) == expected


# ------------------------------------------------------------------------------- supervised
def test_supervised_step_grows_with_the_recursion() -> None:
    k1, k2, k3 = (supervised_step_flops(sup(model_set=(f"H_cycles={k}",))) for k in (1, 2, 3))
    assert 0 < k1 < k2 < k3
    assert k3 - k2 == pytest.approx(k2 - k1)  # each extra no-grad round costs the same
    # K=3 runs the recursion forward 3x, the backward only through the last round: ~5/3
    assert 1.3 < k3 / k1 < 3.0


def test_supervised_step_is_linear_in_the_batch() -> None:
    assert supervised_step_flops(sup(batch_size=16)) == pytest.approx(
        2 * supervised_step_flops(sup(batch_size=8))
    )


@pytest.mark.parametrize("preset", ["mlp", "conv", "trm-h1l1"])
def test_supervised_step_of_the_baselines(preset: str) -> None:
    assert 0 < supervised_step_flops(sup(preset=preset)) < supervised_step_flops(sup())


def test_supervised_inference_scales_with_steps_for_the_trm_only() -> None:
    assert supervised_inference_flops(sup(), 4) == pytest.approx(
        4 * supervised_inference_flops(sup(), 1)
    )
    mlp = supervised_inference_flops(sup(preset="mlp"), 1)
    assert mlp > 0 and supervised_inference_flops(sup(preset="mlp"), 4) == mlp
    with pytest.raises(ValueError, match="steps"):
        supervised_inference_flops(sup(), 0)


def test_counting_restores_threads_and_random_states() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        states = random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state()  # noqa: NPY002
        supervised_step_flops(sup(seed=3))
        assert torch.get_num_threads() == 2
        assert random.getstate() == states[0]
        assert np.array_equal(np.random.get_state()[1], states[1])  # noqa: NPY002
        assert torch.equal(torch.get_rng_state(), states[2])
    finally:
        torch.set_num_threads(threads)


# -------------------------------------------------------------------------------------- PPO
@pytest.mark.parametrize("policy", ["trm", "mlp", "trm-carry"])
def test_ppo_env_step_is_positive_and_writes_nothing(
    policy: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where SB3 would put its logs
    assert ppo_env_step_flops(ppo(policy)) > 0
    assert list(tmp_path.iterdir()) == []


def test_ppo_env_step_grows_with_the_recursion() -> None:
    k1 = ppo_env_step_flops(ppo("trm", model_set=("H_cycles=1",)))
    k3 = ppo_env_step_flops(ppo("trm", model_set=("H_cycles=3",)))
    assert k3 > k1 > ppo_env_step_flops(ppo("mlp"))


# ------------------------------------------------------------------------------------- runs
def test_run_flops_is_per_step_times_steps_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flops, "_CACHE", {})
    calls: list[TrainConfig] = []

    def counted(cfg: TrainConfig) -> float:
        calls.append(cfg)
        return supervised_step_flops(cfg)

    monkeypatch.setattr(flops, "supervised_step_flops", counted)
    per_step = supervised_step_flops(sup())
    assert run_flops("supervised", sup(steps=10), 10) == 10 * per_step
    # another seed, output folder and budget: the same model and batch, so no rebuild
    other = sup(seed=4, out=Path("elsewhere"), steps=None, minutes=2.0, progress=False)
    assert run_flops("supervised", other, 20) == 20 * per_step
    assert len(calls) == 1
    run_flops("supervised", sup(model_set=("H_cycles=3",)), 1)
    assert len(calls) == 2

    monkeypatch.setattr(flops, "ppo_env_step_flops", lambda cfg: 5.0)
    assert run_flops("ppo", ppo("mlp", seed=2), 100) == 500.0


def test_puzzle_flops_is_inference_flops_cached_per_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flops, "_CACHE", {})
    calls: list[int] = []

    def counted(cfg: TrainConfig, steps: int) -> float:
        calls.append(steps)
        return supervised_inference_flops(cfg, steps)

    monkeypatch.setattr(flops, "supervised_inference_flops", counted)
    two = flops.puzzle_flops(sup(), 2)
    assert two == supervised_inference_flops(sup(), 2) > 0
    assert flops.puzzle_flops(sup(seed=3), 2) == two and calls == [2]  # cached
    assert flops.puzzle_flops(sup(), 4) == pytest.approx(2 * two) and calls == [2, 4]


def test_run_flops_rejects_a_mismatched_regime() -> None:
    with pytest.raises(ValueError, match="regime"):
        run_flops("rl", sup(), 1)
    with pytest.raises(ValueError, match="PPOConfig"):
        run_flops("ppo", sup(), 1)
