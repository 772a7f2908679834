"""K cycles vs matched baselines: the TRM with K = H_cycles in {1, 2, 3, 5} (L_cycles fixed by
the preset) against the MLP and conv net matched in parameters, on a maze and a Sudoku, supervised
and with PPO (see experiments/studies.py).

    python experiments/k_cycles.py --preset cpu-quick [--out DIR] [--dry-run] [--workers N]

is ``trm-rl sweep k_cycles --preset cpu-quick ...`` (same options, see experiments/sweep.py).
"""

from experiments.sweep import script_main

if __name__ == "__main__":
    script_main("k_cycles")
