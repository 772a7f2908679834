"""Stable-Baselines3 integration: the batched-env adapter (and, later, TRM policies)."""

from trm_rl.policies.vec_env import SB3VecEnvAdapter, make_sb3_vec_env

__all__ = ["SB3VecEnvAdapter", "make_sb3_vec_env"]
