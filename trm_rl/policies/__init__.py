"""Stable-Baselines3 integration: TRM policies, masked PPO with a carried TRM state, the batched
env adapter, training runs and their evaluation.

- :class:`TRMPolicy`: a TRM actor-critic for ``PPO`` / ``MaskablePPO``;
- :class:`TRMCarryPolicy` + :class:`CarryMaskablePPO`: the TRM state persists across env steps;
- :func:`load_agent`: the trained agent of a ``trm-rl train-ppo`` run;
- :func:`make_sb3_vec_env`: our natively batched envs as an SB3 ``VecEnv``;
- :func:`run_episodes`: any policy on given puzzles, each played once, an :class:`EvalResult`
  (``max_length_ratio=2.0`` stops each episode once its success within 2x optimal is decided);
- :func:`compare_reports`: McNemar's paired test of two ``evaluate-ppo`` reports of the same
  puzzles (:mod:`trm_rl.policies.paired`).
"""

from trm_rl.policies.carry import CarryMaskablePPO, TRMCarryPolicy
from trm_rl.policies.evaluate import EvalResult, run_episodes
from trm_rl.policies.paired import compare_reports
from trm_rl.policies.train import evaluate_ppo, load_agent, train_ppo
from trm_rl.policies.trm_policy import TRMPolicy
from trm_rl.policies.vec_env import SB3VecEnvAdapter, make_sb3_vec_env

__all__ = [
    "CarryMaskablePPO",
    "EvalResult",
    "SB3VecEnvAdapter",
    "TRMCarryPolicy",
    "TRMPolicy",
    "compare_reports",
    "evaluate_ppo",
    "load_agent",
    "make_sb3_vec_env",
    "run_episodes",
    "train_ppo",
]
