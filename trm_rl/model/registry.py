"""The kinds of model behind one interface, and the only place that maps a kind to its
classes: ``"trm"`` (:class:`TRM`), ``"mlp"`` (:class:`MLPModel`), ``"convnet"``
(:class:`ConvNetModel`), ``"dtnet"`` (:class:`DTNetModel`, a recurrent conv net).

Config dicts and checkpoints carry the kind as ``"kind"`` (a dict without it is a TRM config,
as every config written before the tag existed). The mapping is fixed and explicit: a kind read
from a file selects one of these entries, never a class looked up by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trm_rl.model.baselines import ConvNetConfig, ConvNetModel, MLPConfig, MLPModel
from trm_rl.model.config import KIND_KEY, TRMConfig
from trm_rl.model.recurrent_conv import DTNetConfig, DTNetModel
from trm_rl.model.trm import TRM

ModelConfig = TRMConfig | MLPConfig | ConvNetConfig | DTNetConfig
Model = TRM | MLPModel | ConvNetModel | DTNetModel

#: kind -> (config class, model class).
MODEL_KINDS: dict[str, tuple[type, type]] = {
    "trm": (TRMConfig, TRM),
    "mlp": (MLPConfig, MLPModel),
    "convnet": (ConvNetConfig, ConvNetModel),
    "dtnet": (DTNetConfig, DTNetModel),
}

#: Model classes, for ``isinstance`` checks.
MODEL_CLASSES: tuple[type, ...] = tuple(model for _, model in MODEL_KINDS.values())


def build_model(config: ModelConfig) -> Model:
    """A freshly initialised model of the config's kind (``TRM(config)``, ``MLPModel(config)``,
    ``ConvNetModel(config)`` or ``DTNetModel(config)``).

    :param config: a :class:`TRMConfig`, :class:`MLPConfig`, :class:`ConvNetConfig` or
        :class:`DTNetConfig`.
    :raises ValueError: for anything else.
    """
    for config_class, model_class in MODEL_KINDS.values():
        if type(config) is config_class:
            return model_class(config)
    raise ValueError(
        "build_model needs a TRMConfig, MLPConfig or another model config (ConvNetConfig, "
        f"DTNetConfig), got {type(config).__name__}; read a config dict with "
        "trm_rl.model.config_from_dict(d)"
    )


def config_from_dict(data: Mapping[str, Any]) -> ModelConfig:
    """The config a dict describes, dispatched on its ``"kind"`` (absent: ``"trm"``).

    :param data: the output of ``config.to_dict()`` (or an older TRM config dict).
    :raises ValueError: for a non-dict, an unknown kind, unknown fields or invalid values.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"config_from_dict needs a dict of fields, got {type(data).__name__}")
    kind = data.get(KIND_KEY, TRMConfig.kind)
    if not isinstance(kind, str) or kind not in MODEL_KINDS:
        raise ValueError(
            f"unknown model kind {kind!r} in the config dict; choose one of {list(MODEL_KINDS)}"
        )
    return MODEL_KINDS[kind][0].from_dict(data)


__all__ = [
    "MODEL_CLASSES",
    "MODEL_KINDS",
    "Model",
    "ModelConfig",
    "build_model",
    "config_from_dict",
]
