"""Stable-Baselines3 baseline policies for MaskablePPO, matched in parameters to a TRM policy.

The classes are defined in :mod:`trm_rl.policies.baselines` beside the TRM policy, so that
``trm-rl train-ppo`` (in ``trm_rl``) builds every kind of policy without importing this package,
which sits above ``trm_rl`` in the dependency order; this module is their home under
``baselines``.
"""

from trm_rl.policies.baselines import (
    MATCH_TOLERANCE,
    OneHotGridExtractor,
    ResidualConvExtractor,
    count_policy_params,
    matched_conv_policy_kwargs,
    matched_mlp_policy_kwargs,
)

__all__ = [
    "MATCH_TOLERANCE",
    "OneHotGridExtractor",
    "ResidualConvExtractor",
    "count_policy_params",
    "matched_conv_policy_kwargs",
    "matched_mlp_policy_kwargs",
]
