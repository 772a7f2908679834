"""The batch contract of the TRM, checked where a batch enters the model.

A batch is a dict of tensors with one row per example:

    inputs              [B, seq_len] integer token ids in [0, vocab_size); a model that accepts
                        any grid size (``config.any_grid_size``: the conv mixer, the conv net)
                        also takes [B, H, W] grids of any H, W >= 1
    labels              [B, seq_len] integer, in [0, vocab_size) or IGNORE_LABEL_ID (optional);
                        with [B, H, W] inputs: [B, H, W] or [B, H * W]
    puzzle_identifiers  [B] integer ids in [0, num_puzzle_identifiers) (optional; the range is
                        checked only when the model has a puzzle-embedding table)
    anything else       [B, ...] tensors, carried along per row

Out-of-range ids would otherwise index past an embedding table (an opaque IndexError on CPU, a
device-side assert on CUDA) or, for int64 ids beyond 2**31, wrap around silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import torch

Batch = dict[str, torch.Tensor]

IGNORE_LABEL_ID = -100
"""Label value that the losses skip (padding, or cells whose answer is not scored)."""

#: dtypes accepted for token, label and id tensors (bool and wide unsigned types are not).
INT_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


class BatchSpec(Protocol):
    """What :func:`check_batch` reads from a model config (TRMConfig and the baseline configs)."""

    vocab_size: int
    seq_len: int
    grid_width: int | None

    @property
    def any_grid_size(self) -> bool: ...


def grid_shape(inputs: torch.Tensor, config: BatchSpec) -> tuple[int, int] | None:
    """(rows, columns) of the grid of a checked ``inputs``: ``[B, H, W]`` gives ``(H, W)``,
    ``[B, seq_len]`` gives ``(seq_len // grid_width, grid_width)``; None without a grid width."""
    if inputs.ndim == 3:
        return int(inputs.shape[1]), int(inputs.shape[2])
    if config.grid_width is None:
        return None
    return config.seq_len // config.grid_width, config.grid_width


def check_batch(
    batch: Mapping[str, Any], config: BatchSpec, device: torch.device, puzzle_table: bool
) -> int:
    """Check types, shapes, devices and value ranges of a batch.

    The value ranges cost one min and one max per tensor and a single host sync; they are
    skipped while ``torch.compile`` traces (the shape and dtype checks are static).

    :param batch: the batch (see the module docstring).
    :param config: the model's config (``seq_len``, ``vocab_size``, ``any_grid_size``,
        ``grid_width``, and ``num_puzzle_identifiers`` when ``puzzle_table``).
    :param device: the model's device (a ``meta`` device skips the device check).
    :param puzzle_table: whether the model has a puzzle-embedding table (range-check the ids).
    :raises ValueError: naming the entry, what it holds and what is expected.
    :return: the batch size ``B``.
    """
    if not isinstance(batch, Mapping):
        raise ValueError(
            f"batch must be a dict of tensors ({{'inputs': [B, {config.seq_len}], ...}}), got "
            f"{type(batch).__name__}"
        )
    if "inputs" not in batch:
        raise ValueError(
            f"batch has no 'inputs' (keys: {sorted(batch, key=str)}); pass the token ids as "
            f"batch['inputs'], an integer tensor [B, {config.seq_len}]"
        )
    inputs = _check_tensor("inputs", batch["inputs"], device, integer=True)
    label_shapes = [tuple(inputs.shape)]
    if config.any_grid_size and inputs.ndim == 3:
        if inputs.shape[1] == 0 or inputs.shape[2] == 0:
            raise ValueError(
                f"inputs holds grids without cells (shape {list(inputs.shape)}); pass grids of at "
                "least 1x1 as [B, H, W]"
            )
        label_shapes.append((inputs.shape[0], inputs.shape[1] * inputs.shape[2]))
    elif inputs.ndim != 2 or inputs.shape[1] != config.seq_len:
        fix = (
            f"pass [B, {config.seq_len}] (grids of width {config.grid_width}) or a grid of any "
            "size as [B, H, W]: this model accepts any grid size"
            if config.any_grid_size
            else f"flatten each grid to {config.seq_len} tokens (or build the model with the "
            "seq_len of your data)"
        )
        raise ValueError(
            f"inputs must have shape [batch, seq_len] = [B, {config.seq_len}], got "
            f"{list(inputs.shape)}; {fix}"
        )
    size = inputs.shape[0]
    if size == 0:
        raise ValueError("inputs holds no rows (batch size 0); pass at least one example")
    for key, value in batch.items():
        if not isinstance(key, str):
            raise ValueError(f"batch keys must be strings, got {key!r}")
        if key == "labels":
            _check_tensor(key, value, device, integer=True)
            if tuple(value.shape) not in label_shapes:
                expected = " or ".join(str(list(shape)) for shape in label_shapes)
                raise ValueError(
                    f"labels must have shape {expected} (one row per example of inputs), got "
                    f"{list(value.shape)}"
                )
        elif key == "puzzle_identifiers":
            _check_tensor(key, value, device, integer=True, shape=(size,))
        elif key != "inputs":
            value = _check_tensor(key, value, device)
            if value.ndim == 0 or value.shape[0] != size:
                raise ValueError(
                    f"batch[{key!r}] must have one row per example ({size}, like inputs), got "
                    f"shape {list(value.shape)}"
                )
    if torch.compiler.is_compiling():
        return size

    labels = batch.get("labels")
    ids = batch.get("puzzle_identifiers") if puzzle_table else None
    stats = [inputs.min(), inputs.max()]
    if labels is not None:
        stats += [torch.where(labels == IGNORE_LABEL_ID, 0, labels).min(), labels.max()]
    if ids is not None:
        stats += [ids.min(), ids.max()]
    values = torch.stack([v.long() for v in stats]).tolist()  # the one host sync

    vocab = config.vocab_size
    low, high = values[0], values[1]
    if low < 0 or high >= vocab:
        found = f"tokens up to {high} but vocab_size is {vocab}"
        if high < vocab:
            found = f"a negative token ({low})"
        raise ValueError(
            f"inputs has {found}; token ids must lie in [0, {vocab}): check the tokenisation, "
            "or build the model with a vocab_size covering every token"
        )
    if labels is not None:
        low, high = values[2], values[3]
        if low < 0 or high >= vocab:
            found = f"values up to {high} but vocab_size is {vocab}"
            if high < vocab:
                found = f"the value {low}"
            raise ValueError(
                f"labels has {found}; labels must lie in [0, {vocab}) or equal "
                f"{IGNORE_LABEL_ID} (IGNORE_LABEL_ID, skipped by the loss)"
            )
    if ids is not None:
        count = config.num_puzzle_identifiers
        low, high = values[-2], values[-1]
        if low < 0 or high >= count:
            found = f"ids up to {high} but num_puzzle_identifiers is {count}"
            if high < count:
                found = f"a negative id ({low})"
            raise ValueError(
                f"puzzle_identifiers has {found}; ids must lie in [0, {count}): build the model "
                "with num_puzzle_identifiers covering every puzzle id"
            )
    return size


def _check_tensor(
    name: str,
    value: Any,
    device: torch.device,
    integer: bool = False,
    shape: tuple[int, ...] | None = None,
) -> torch.Tensor:
    """``value`` if it is a tensor on ``device`` (of an integer dtype / of ``shape`` if asked)."""
    if not isinstance(value, torch.Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor, got {type(value).__name__}; convert it with "
            "torch.as_tensor(...)"
        )
    if integer and value.dtype not in INT_DTYPES:
        raise ValueError(
            f"{name} must hold integer ids (torch.int64, int32, int16, int8 or uint8), got "
            f"{value.dtype}; convert it with .long()"
        )
    if shape is not None and tuple(value.shape) != shape:
        raise ValueError(
            f"{name} must have shape {list(shape)} (one row per example of inputs), got "
            f"{list(value.shape)}"
        )
    if device.type != "meta" and value.device != device:
        raise ValueError(
            f"{name} is on {value.device} but the model is on {device}; move the batch with "
            f"{{k: v.to({str(device)!r}) for k, v in batch.items()}}"
        )
    return value


__all__ = ["IGNORE_LABEL_ID", "INT_DTYPES", "Batch", "BatchSpec", "check_batch", "grid_shape"]
