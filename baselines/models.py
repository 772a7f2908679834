"""Baseline models matched in parameters to a TRM, trained by the same trainer.

The classes are defined in :mod:`trm_rl.model.baselines` beside the TRM, so that
``trm_rl.model`` (checkpoints, :func:`trm_rl.model.build_model`) can build every kind of model
without importing this package (which sits above ``trm_rl`` in the dependency order); this
module is their home under ``baselines``.

* :class:`MLPModel` / :class:`MLPConfig`: the "direct prediction" MLP over the flattened grid.
* :class:`ConvNetModel` / :class:`ConvNetConfig`: a residual 3x3 conv net; any grid size.
* :class:`DTNetModel` / :class:`DTNetConfig`: a weight-tied recurrent conv net with recall and
  progressive training (DT-recall); any grid size, thinks longer with more steps.
* :func:`matched_mlp_config`, :func:`matched_convnet_config`, :func:`matched_dtnet_config`:
  sized to a TRM's parameter count.

Example::

    from baselines.models import ConvNetModel, matched_convnet_config
    from trm_rl.model import TRMConfig

    model = ConvNetModel(matched_convnet_config(TRMConfig.preset("cpu-maze-conv")))
"""

from trm_rl.model.baselines import (
    MATCH_TOLERANCE,
    ConvNetConfig,
    ConvNetModel,
    MLPConfig,
    MLPModel,
    matched_convnet_config,
    matched_mlp_config,
    trm_parameters,
)
from trm_rl.model.recurrent_conv import DTNetConfig, DTNetModel, matched_dtnet_config

__all__ = [
    "MATCH_TOLERANCE",
    "ConvNetConfig",
    "ConvNetModel",
    "DTNetConfig",
    "DTNetModel",
    "MLPConfig",
    "MLPModel",
    "matched_convnet_config",
    "matched_dtnet_config",
    "matched_mlp_config",
    "trm_parameters",
]
