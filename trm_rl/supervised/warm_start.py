"""Warm starts: a new run that begins from the weights of a supervised run or a shipped model.

``--init-from`` names either the ``--out`` folder of a ``trm-rl train-supervised`` run or a
shipped model (``trm-rl models``). The source's evaluated weights (the EMA when it kept one) are
copied into the new model; the optimiser, the EMA, the schedule and the step count start fresh.
It is how a curriculum is built from plain runs (9x9 mazes, then 15x15, then 30x30: a conv-mixer
TRM has no parameter that depends on the grid size), and how PPO policies start from a
supervised TRM.
"""

from __future__ import annotations

from pathlib import Path

import torch

from trm_rl import runs
from trm_rl.data.build import grid_info
from trm_rl.data.config import DataConfig
from trm_rl.model.checkpoint import load_checkpoint, load_config
from trm_rl.model.registry import ModelConfig
from trm_rl.pretrained import card, list_models, model_folder
from trm_rl.supervised import state as run_state


def shipped_init(init_from: Path | str) -> str | None:
    """The shipped model ``--init-from`` names (``trm-rl models``), or None for a run folder.

    A path that exists is a run folder, whatever its name.

    :raises ValueError: for a value that is neither an existing folder nor a shipped model.
    """
    text = str(init_from)
    if Path(text).exists():
        return None
    if text in list_models():
        return text
    raise ValueError(
        f"--init-from {text!r} is neither a run folder nor a shipped model; pass the --out "
        f"folder of a trm-rl train-supervised run or one of {list_models()} (trm-rl models)"
    )


def init_folder(init_from: Path | str) -> Path:
    """The checkpoint folder ``--init-from`` names: a shipped model's folder, or the last
    checkpoint of a supervised run.

    :raises ValueError: for an unknown name, a folder that is not a supervised run, or a run with
        no checkpoint yet.
    """
    name = shipped_init(init_from)
    if name is not None:
        return model_folder(name)
    run_dir = Path(init_from)
    runs.read_config(run_dir, "supervised")  # refuses folders that are not supervised runs
    folder = run_state.latest_checkpoint(run_dir)
    if folder is None:
        raise ValueError(
            f"--init-from {str(init_from)!r} has no checkpoint yet; pass the --out folder of a "
            "trm-rl train-supervised run that has written one"
        )
    return folder


def init_game(init_from: Path | str) -> str:
    """The game (``"sudoku"`` or ``"maze"``) the run or shipped model ``--init-from`` names was
    trained on."""
    name = shipped_init(init_from)
    if name is not None:
        return str(card(name)["game"])
    return run_game(runs.read_config(Path(init_from), "supervised"))


def run_game(config: dict) -> str:
    """The game of a run's ``config.json`` dict (format 2 stores it; format 1: from its data)."""
    kind = config.get("resolved", {}).get("kind")
    if kind in ("maze", "sudoku"):
        return str(kind)
    return grid_info(DataConfig.from_dict(config["data"])).kind


def init_model_config(init_from: Path | str) -> ModelConfig:
    """The model config of the run or shipped model ``--init-from`` names."""
    return load_config(init_folder(init_from))


def load_init_weights(
    target: torch.nn.Module, init_from: Path | str, what: str = "the model"
) -> None:
    """Copy the evaluated weights of ``init_from`` into ``target`` (in place).

    Every parameter and buffer of ``target`` must exist in the source with the same shape; the
    source may hold more (a supervised TRM's halting head feeds a policy that has none).

    :param what: how the error message names ``target``.
    :raises ValueError: naming the tensors that do not fit and what to change.
    """
    source = load_checkpoint(init_folder(init_from), "cpu").state_dict()
    wanted = target.state_dict()
    misfit = [k for k in wanted if k not in source or source[k].shape != wanted[k].shape]
    if misfit:
        shapes = [
            f"{k}: {tuple(wanted[k].shape)} vs {tuple(source[k].shape) if k in source else '-'}"
            for k in misfit[:5]
        ]
        raise ValueError(
            f"the weights of --init-from {str(init_from)!r} do not fit {what} (this vs source: "
            f"{'; '.join(shapes)}); give the source's architecture (another size, vocabulary or "
            "mixer does not transfer, except a conv mixer across grid sizes) or drop --init-from"
        )
    target.load_state_dict({k: source[k].to(wanted[k].device) for k in wanted})


__all__ = [
    "init_folder",
    "init_game",
    "init_model_config",
    "load_init_weights",
    "run_game",
    "shipped_init",
]
