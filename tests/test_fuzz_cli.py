"""Malformed command lines end in one clear message (a SystemExit, never a traceback) before any
environment is built; `run_demo` refuses the same arguments with a ValueError."""

from __future__ import annotations

import contextlib
import io

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import envs
from experiments.cli import main
from trm_rl.demo import check_demo_args, run_demo

FAST = settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
OURS = "trm_rl/Sudoku-4x4-v0"


def usage_error(argv: list[str]) -> str:
    """The one-line message ``trm-rl <argv>`` prints on stderr before exiting with status 2."""
    err = io.StringIO()
    with pytest.raises(SystemExit) as info, contextlib.redirect_stderr(err):
        main(argv)
    assert info.value.code == 2, "a usage error exits with status 2"
    message = err.getvalue().strip()
    assert message.startswith("trm-rl demo: ") and "\n" not in message
    return message


def parse_error(argv: list[str], capsys) -> str:
    """What tyro prints for a command line it cannot parse (exit status 2)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return " ".join(captured.err.split())  # the panel may wrap lines


@pytest.mark.parametrize(
    "env_id",
    ["CartPole-v1", "nope", "", "trm_rl/Maze-v1", "envs:trm_rl/Maze-v0", "trm_rl/Chess-v0"],
)
def test_an_env_id_that_is_not_ours_lists_ours(env_id: str) -> None:
    message = usage_error(["demo", "--env-id", env_id, "--render", "none"])
    assert f"unknown env id {env_id!r}: the demo plays this project's environments only" in message
    assert all(known in message for known in envs.ENV_IDS)


def test_cartpole_is_registered_but_still_refused() -> None:
    assert "CartPole-v1" in gym.registry  # the case that used to crash deep inside the demo
    with pytest.raises(ValueError, match="unknown env id 'CartPole-v1'"):
        run_demo("CartPole-v1", episodes=1, policy="random", seed=0, render="none")


def test_a_near_miss_gets_a_suggestion() -> None:
    message = usage_error(["demo", "--env-id", "trm_rl/sudoku-4x4-v0"])
    assert "did you mean 'trm_rl/Sudoku-4x4-v0'?" in message


@pytest.mark.parametrize("seed", ["-1", "-12345"])
def test_a_negative_seed_is_refused(seed: str) -> None:
    message = usage_error(["demo", "--env-id", OURS, "--seed", seed])
    assert message == f"trm-rl demo: seed must be >= 0, got {seed}"


@pytest.mark.parametrize("episodes", ["0", "-1", "-100"])
def test_zero_or_negative_episodes_are_refused(episodes: str) -> None:
    message = usage_error(["demo", "--env-id", OURS, "--episodes", episodes])
    assert message == f"trm-rl demo: episodes must be >= 1, got {episodes}"


@given(seed=st.integers(max_value=-1), episodes=st.integers(min_value=1, max_value=5))
@FAST
def test_any_negative_seed_is_refused(seed: int, episodes: int) -> None:
    argv = ["demo", "--env-id", OURS, "--seed", str(seed), "--episodes", str(episodes)]
    assert usage_error(argv).endswith(f"seed must be >= 0, got {seed}")


@given(episodes=st.integers(max_value=0))
@FAST
def test_any_non_positive_episode_count_is_refused(episodes: int) -> None:
    message = usage_error(["demo", "--env-id", OURS, "--episodes", str(episodes)])
    assert message.endswith(f"episodes must be >= 1, got {episodes}")


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["bogus"], "Unrecognized options: bogus"),
        (["bogus"], "Available subcommands: demo, envs, train-supervised, evaluate, solve"),
        ([], "Expected one of {demo, envs, train-supervised, evaluate, solve, models,"),
        (
            [],
            "train-ppo, evaluate-ppo, compare-ppo, sweep, plot, report, test-time,",
        ),  # the panel wraps here
        (["demo", "--episodes", "1.5"], "Error parsing --episodes"),
        (["demo", "--seed", "abc"], "Error parsing --seed"),
        (["demo", "--policy", "greedy"], "greedy"),
        (["demo", "--render", "human"], "human"),
        (["demo", "--colour", "red"], "--colour"),
    ],
)
def test_unparseable_command_lines_exit_with_status_2(argv, phrase: str, capsys) -> None:
    assert phrase in parse_error(argv, capsys)


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        ({"episodes": 2.0}, "episodes must be an int"),
        ({"episodes": True}, "episodes must be an int"),
        ({"seed": None}, "seed must be an int"),
        ({"seed": -1}, "seed must be >= 0"),
        ({"policy": "greedy"}, "policy must be one of ['oracle', 'random']"),
        ({"render": "human"}, "render must be one of ['ansi', 'none']"),
        ({"env_id": None}, "unknown env id None"),
    ],
)
def test_run_demo_refuses_bad_arguments_before_building_an_env(
    kwargs: dict, phrase: str, monkeypatch
) -> None:
    def no_env(*args, **kwargs):
        raise AssertionError("an environment was built for invalid arguments")

    monkeypatch.setattr(gym, "make", no_env)
    args = {"env_id": OURS, "episodes": 1, "policy": "random", "seed": 0, "render": "none"}
    with pytest.raises(ValueError) as info:
        run_demo(**{**args, **kwargs})
    assert phrase in str(info.value)


def test_exactly_our_registered_ids_are_accepted() -> None:
    accepted = set()
    for env_id in gym.registry:  # ours and every other registered id (CartPole, ...)
        try:
            check_demo_args(env_id, 1, "oracle", 0, "ansi")
            accepted.add(env_id)
        except ValueError as err:
            assert "unknown env id" in str(err)
    assert accepted == set(envs.ENV_IDS)
    assert len(gym.registry) > len(accepted)
