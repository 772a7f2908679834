"""``trm-rl demo``: play episodes of a registered env and print boards and statistics."""

from __future__ import annotations

import difflib
import time

import gymnasium as gym
import numpy as np

import envs  # registers the ids
from envs.maze.solver import oracle_actions as maze_oracle_actions
from envs.sudoku.solver import oracle_actions as sudoku_oracle_actions
from envs.utils import check_choice, check_int

POLICIES = ("oracle", "random")
RENDER_MODES = ("ansi", "none")


def check_demo_args(env_id: str, episodes: int, policy: str, seed: int, render: str) -> None:
    """Refuse arguments :func:`run_demo` cannot play, before any environment is built.

    :raises ValueError: naming the argument, the value and what is accepted.
    """
    if not isinstance(env_id, str) or env_id not in envs.ENV_IDS:
        close = difflib.get_close_matches(str(env_id), envs.ENV_IDS, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        known = ", ".join(sorted(envs.ENV_IDS))
        raise ValueError(
            f"unknown env id {env_id!r}: the demo plays this project's environments only; "
            f"{hint}choose one of: {known} (`trm-rl envs` lists them)"
        )
    check_int("episodes", episodes, low=1)
    check_int("seed", seed, low=0)
    check_choice("policy", policy, POLICIES)
    check_choice("render", render, RENDER_MODES)


def run_demo(env_id: str, episodes: int, policy: str, seed: int, render: str) -> list[dict]:
    """Play ``episodes`` episodes and print them.

    :param env_id: one of the project's ids (``trm-rl envs`` lists them).
    :param episodes: number of episodes (>= 1).
    :param policy: ``"oracle"`` (BFS path / solver solution) or ``"random"`` (uniform legal).
    :param seed: seed (>= 0) of the first reset and of the random policy.
    :param render: ``"ansi"`` prints the first and last board; ``"none"`` only statistics.
    :raises ValueError: for an argument :func:`check_demo_args` refuses.
    :return: one dict of statistics per episode.
    """
    check_demo_args(env_id, episodes, policy, seed, render)
    env = gym.make(env_id, render_mode="ansi" if render == "ansi" else None)
    is_maze = envs.GAMES[env_id] == "maze"
    rng = np.random.default_rng(seed)
    stats = []
    obs, info = env.reset(seed=seed)
    for episode in range(episodes):
        solution = None if is_maze else env.unwrapped.state.solution
        if render == "ansi":
            print(f"--- {env_id} episode {episode}: start")
            print(env.render())
        total, steps, start = 0.0, 0, time.perf_counter()
        while True:
            if policy == "oracle":
                grid = obs["grid"][None]  # a batch of one
                if is_maze:
                    action = int(maze_oracle_actions(grid)[0])
                else:
                    action = int(sudoku_oracle_actions(grid, solution[None])[0])
            else:
                action = int(rng.choice(np.flatnonzero(env.unwrapped.action_masks())))
            obs, reward, terminated, truncated, info = env.step(action)
            total, steps = total + float(reward), steps + 1
            if terminated or truncated:
                break
        record = {
            "episode": episode,
            "return": round(total, 4),
            "steps": steps,
            "success": bool(info["is_success"]),
            "steps_per_s": round(steps / (time.perf_counter() - start), 1),
        }
        if is_maze:
            record["shortest_path_length"] = info["shortest_path_length"]
        if render == "ansi":
            print(f"--- episode {episode}: end")
            print(env.render())
        print(record)
        stats.append(record)
        obs, info = env.reset()
    env.close()
    return stats
