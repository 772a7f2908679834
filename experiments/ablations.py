"""Ablations: one change at a time to the recipe's TRM (supervised: ACT, EMA, ReLU, token mixers,
single_z, separate_networks, full_backprop; PPO: the carry, ACT thinking time, reward shaping; see
experiments/studies.py).

    python experiments/ablations.py --preset cpu-full [--out DIR] [--dry-run] [--workers N]

is ``trm-rl sweep ablations --preset cpu-full ...`` (same options, see experiments/sweep.py).
"""

from experiments.sweep import script_main

if __name__ == "__main__":
    script_main("ablations")
