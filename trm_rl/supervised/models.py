"""The data and the model of a supervised run, from its resolved :class:`TrainConfig`."""

from __future__ import annotations

import dataclasses
from typing import Any

from trm_rl.data.build import make_data
from trm_rl.model.registry import build_model
from trm_rl.supervised.config import TrainConfig


def build_data(cfg: TrainConfig) -> tuple[Any, dict[str, Any]]:
    """The dataset of a run and its config as a dict (for ``config.json``)."""
    return make_data(cfg.data), dataclasses.asdict(cfg.data)


def build_run_model(cfg: TrainConfig) -> Any:
    """The model of a run, freshly initialised from the current torch seed."""
    return build_model(cfg.model)


__all__ = ["build_data", "build_run_model"]
