"""Pretrained models shipped inside the package, loaded by name.

Each model is a folder of ``trm_rl/pretrained/models/`` named after it, holding:

    model.safetensors   the evaluated weights (EMA) with the config in its metadata (<= 5 MB)
    config.json         a readable copy of the model config
    card.json           the machine-readable model card (see :func:`card`)
    README.md           the human model card
    heldout.csv         the first 200 puzzles of its test split (Sudoku-Extreme or Maze-Hard
                        format), to check the card without rebuilding the data

``card.json`` fields: ``name``, ``game`` ("sudoku" or "maze"), ``grid`` ([H, W]), ``kind``,
``parameters``, ``data`` (the run's DataConfig fields: the held-out splits are rebuilt from
them), ``command`` (the exact command that trains it), ``package_command`` (the one that packaged
it), ``budget`` (``steps``, ``batch_size``, ``examples``), ``machine``, ``train_seconds``,
``scores`` (a list of ``{data, split, n, metric, value, max_steps}``; the first is the
headline), ``heldout_sample`` (``heldout.csv``) and ``sha256`` of the weights.

The folders are written by ``python -m experiments.pretrain`` from a finished run; ``trm-rl
models`` lists them and ``trm-rl solve --model NAME`` uses one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from trm_rl.model.checkpoint import WEIGHTS_NAME, load_checkpoint

#: The folder that holds one subfolder per shipped model.
MODELS_DIR = Path(__file__).resolve().parent / "models"
CARD_NAME = "card.json"
#: The largest weights file a shipped model may have.
MAX_BYTES = 5 * 1024 * 1024


def _scan(folder: Path) -> dict[str, Path]:
    """name -> folder of every complete model folder (weights and card present)."""
    if not folder.is_dir():
        return {}
    return {
        path.name: path
        for path in sorted(folder.iterdir())
        if (path / WEIGHTS_NAME).is_file() and (path / CARD_NAME).is_file()
    }


#: The shipped models: name -> folder (a directory listing at import; cards are read on demand).
MODELS: dict[str, Path] = _scan(MODELS_DIR)


def list_models() -> list[str]:
    """The names of the shipped models, sorted."""
    return sorted(MODELS)


def model_folder(name: str) -> Path:
    """The folder of a shipped model.

    :raises ValueError: for an unknown name, listing the shipped ones.
    """
    if not isinstance(name, str) or name not in MODELS:
        raise ValueError(
            f"no pretrained model named {name!r}; the shipped models are {list_models()} "
            "(trm-rl models lists them with their scores)"
        )
    return MODELS[name]


def card(name: str) -> dict[str, Any]:
    """The machine-readable model card (``card.json``) of a shipped model.

    :raises ValueError: for an unknown name, or a card that is not a JSON object.
    """
    path = model_folder(name) / CARD_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"the card of {name!r} ({path}) is unreadable: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"the card of {name!r} ({path}) is not a JSON object")
    return data


def load_pretrained(name: str, device: str | torch.device = "auto") -> torch.nn.Module:
    """A shipped model, in eval mode, ready for ``model.solve``.

    :param name: one of :func:`list_models` (e.g. ``"sudoku-4x4"``).
    :param device: "auto" (CUDA when present), "cpu", "cuda", ...
    :raises ValueError: for an unknown name (listing the shipped ones) or device.
    """
    return load_checkpoint(model_folder(name), device).eval()


def headline(card_data: dict[str, Any]) -> dict[str, Any]:
    """The first score of a card (``{}`` when it has none); for a maze model with a distance
    target, its first ``valid`` score (a valid shortest path decoded from the field: the task's
    metric, where exact accuracy asks for the whole field)."""
    scores = card_data.get("scores") or [{}]
    if (card_data.get("data") or {}).get("maze_target") == "distance":
        valid = [s for s in scores if s.get("metric") == "valid"]
        return dict((valid or scores)[0])
    return dict(scores[0])


def models_table() -> str:
    """The shipped models as a text table: name, game, grid, parameters, weights size and the
    card's headline score (what ``trm-rl models`` prints)."""
    header = ("name", "game", "grid", "params", "MB", "headline score")
    rows = [header]
    for name in list_models():
        info = card(name)
        top = headline(info)
        grid = "x".join(str(v) for v in info.get("grid", ()))
        size = (model_folder(name) / WEIGHTS_NAME).stat().st_size / 2**20
        score = (
            f"{top['metric']} {top['value']:.3f} on {top['data']} {top['split']} (n={top['n']})"
            if top
            else "-"
        )
        rows.append(
            (
                name,
                str(info.get("game")),
                grid,
                f"{info.get('parameters', 0):,}",
                f"{size:.2f}",
                score,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    if len(rows) == 1:
        lines.append("(no model is shipped)")
    return "\n".join(lines)


__all__ = [
    "CARD_NAME",
    "MAX_BYTES",
    "MODELS",
    "MODELS_DIR",
    "card",
    "headline",
    "list_models",
    "load_pretrained",
    "model_folder",
    "models_table",
]
