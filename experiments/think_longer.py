"""Thinking longer: the conv-mixer TRM and the conv net trained on 11x11 mazes, scored on 15x15,
31x31 and Maze-Hard mazes with supervision steps scaled with the cells (see
experiments/studies.py).

    python experiments/think_longer.py --preset cpu-full [--out DIR] [--dry-run] [--workers N]

is ``trm-rl sweep think_longer --preset cpu-full ...`` (same options, see experiments/sweep.py).
"""

from experiments.sweep import script_main

if __name__ == "__main__":
    script_main("think_longer")
