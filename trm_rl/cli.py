"""``trm-rl <command>``: a thin command-line front over the library.

Commands:
  demo   play episodes of a registered env with an oracle or a random policy and print them
  envs   list the registered environment ids
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import tyro


@dataclass
class Demo:
    """Play a few episodes of a registered environment and print boards and statistics."""

    env_id: str = "trm_rl/Maze-9x9-v0"
    """One of this project's ids (see `trm-rl envs`), e.g. trm_rl/MazeHard-v0 or
    trm_rl/Sudoku-9x9-v0."""
    episodes: int = 3
    """Number of episodes to play (>= 1)."""
    policy: Literal["oracle", "random"] = "oracle"
    """'oracle' follows the BFS shortest path (Maze) or the solution (Sudoku); 'random' draws
    uniformly among legal actions."""
    seed: int = 0
    """Seed (>= 0) of the first reset and of the random policy."""
    render: Literal["ansi", "none"] = "ansi"
    """Print the first and last board of every episode ('none' prints statistics only)."""


@dataclass
class Envs:
    """List the registered environment ids with the constructor arguments they fix."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``trm-rl`` console script."""
    cmd = tyro.cli(
        Annotated[Demo, tyro.conf.subcommand("demo")]
        | Annotated[Envs, tyro.conf.subcommand("envs")],
        args=argv,
        description=__doc__,
    )
    if isinstance(cmd, Demo):
        from trm_rl.demo import check_demo_args, run_demo

        args = (cmd.env_id, cmd.episodes, cmd.policy, cmd.seed, cmd.render)
        try:
            check_demo_args(*args)
        except ValueError as err:  # a usage error: the message, no traceback
            raise SystemExit(f"trm-rl demo: {err}") from None
        run_demo(*args)
    else:
        import envs

        for env_id, kwargs in envs.ENV_IDS.items():
            print(f"{env_id:28s} {kwargs}")


if __name__ == "__main__":
    main()
