"""Supervised deep-supervision training of the TRM (and of the matched baselines).

- ``config``: :class:`TrainConfig` (every option of ``trm-rl train-supervised``) and the recipe
  per data name;
- ``trainer``: :func:`train`, the official loop on any device, resumable, data parallel under
  ``torchrun``;
- ``optim``: AdamW / Adam-atan2, warm-up + cosine schedule, weight EMA;
- ``evaluate``, ``env_play``: scores on held-out puzzles (with and without early halting, maze
  validity) and play in the Gymnasium envs;
- ``commands``: ``trm-rl evaluate`` and ``trm-rl solve``; ``trajectory``: the answer-refinement
  GIF; ``metrics``, ``state``: ``metrics.csv``/TensorBoard and the run directory.
"""

from trm_rl.supervised.config import RECIPES, TrainConfig

__all__ = ["RECIPES", "TrainConfig"]
