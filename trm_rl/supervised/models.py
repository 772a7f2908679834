"""The data and the model of a supervised run, from its :class:`TrainConfig`.

The model preset is a TRM preset fitted to the data (vocabulary, grid size), or a baseline
matched in parameters to the recipe's TRM preset: ``mlp`` (an MLP over the flattened grid, the
"direct prediction" baseline), ``conv`` (a residual convolutional net) or ``trm-h1l1`` (the same
TRM with ``H_cycles=1, L_cycles=1``). ``--model-set KEY=VALUE`` overrides any field last.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from trm_rl.supervised.config import Recipe, TrainConfig, parse_overrides, recipe_for

#: Baseline presets, matched to the recipe's TRM preset.
BASELINES = ("mlp", "conv", "trm-h1l1")


def build_data(cfg: TrainConfig) -> tuple[Any, dict[str, Any]]:
    """The dataset of a run and its config as a dict (for ``config.json``).

    :raises ValueError: for an unknown data name or a bad ``--data-set`` override.
    """
    from trm_rl.data import DataConfig, make_data

    overrides = parse_overrides(cfg.data_set, "--data-set")
    known = {f.name for f in dataclasses.fields(DataConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"--data-set: unknown field(s) {unknown}; DataConfig has {sorted(known)}")
    if isinstance(overrides.get("givens"), list):
        overrides["givens"] = tuple(overrides["givens"])
    data_config = DataConfig(name=cfg.data, **overrides)
    data = make_data(data_config)
    as_dict = dataclasses.asdict(data_config)
    return data, as_dict


def fit_to_data(config: Any, data: Any) -> dict[str, Any]:
    """The fields that adapt a TRM preset to a dataset (vocabulary, sequence, grid width)."""
    fields = {"vocab_size": data.vocab_size, "seq_len": data.seq_len}
    if getattr(config, "mixer", None) == "conv":
        fields["grid_width"] = data.grid_shape[1]
    return fields


def build_model_and_config(cfg: TrainConfig, data: Any) -> tuple[Any, Recipe]:
    """The model of a run (freshly initialised from the current torch seed) and its recipe.

    :raises ValueError: for an unknown preset or a bad ``--model-set`` override.
    """
    from trm_rl.model import TRMConfig, build_model

    recipe = recipe_for(cfg.data, data.kind)
    preset = cfg.preset or recipe.preset
    overrides = parse_overrides(cfg.model_set, "--model-set")
    if cfg.bf16:
        overrides.setdefault("forward_dtype", "bfloat16")
    if preset not in BASELINES and preset not in TRMConfig.preset_names():
        raise ValueError(
            f"unknown preset {preset!r}; choose a TRM preset {TRMConfig.preset_names()} or a "
            f"baseline {list(BASELINES)}"
        )
    base_name = recipe.preset if preset in BASELINES else preset
    base = TRMConfig.preset(base_name)
    # The recipe's settings shape the TRM (and so the baselines matched to it); --model-set
    # overrides apply to the model actually trained.
    trm_config = TRMConfig.preset(base_name, **fit_to_data(base, data), **recipe.model_set)
    if preset == "trm-h1l1":
        trm_config = trm_config.replace(H_cycles=1, L_cycles=1)
    if preset == "mlp":
        from baselines.models import matched_mlp_config

        config = matched_mlp_config(trm_config)
    elif preset == "conv":
        from baselines.models import matched_convnet_config

        config = matched_convnet_config(trm_config)
    else:
        config = trm_config
    if overrides:
        config = type(config).from_dict({**config.to_dict(), **overrides})
    return build_model(config), recipe
