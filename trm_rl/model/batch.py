"""The batch contract of the TRM, checked where a batch enters the model.

A batch is a dict of tensors with one row per example:

    inputs              [B, seq_len] integer token ids in [0, vocab_size)
    labels              [B, seq_len] integer, in [0, vocab_size) or IGNORE_LABEL_ID (optional)
    puzzle_identifiers  [B] integer ids in [0, num_puzzle_identifiers) (optional; the range is
                        checked only when the model has a puzzle-embedding table)
    anything else       [B, ...] tensors, carried along per row

Out-of-range ids would otherwise index past an embedding table (an opaque IndexError on CPU, a
device-side assert on CUDA) or, for int64 ids beyond 2**31, wrap around silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from trm_rl.model.config import TRMConfig

Batch = dict[str, torch.Tensor]

IGNORE_LABEL_ID = -100
"""Label value that the losses skip (padding, or cells whose answer is not scored)."""

#: dtypes accepted for token, label and id tensors (bool and wide unsigned types are not).
INT_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


def check_batch(
    batch: Mapping[str, Any], config: TRMConfig, device: torch.device, puzzle_table: bool
) -> int:
    """Check types, shapes, devices and value ranges of a batch.

    The value ranges cost one min and one max per tensor and a single host sync; they are
    skipped while ``torch.compile`` traces (the shape and dtype checks are static).

    :param batch: the batch (see the module docstring).
    :param config: the model's config (``seq_len``, ``vocab_size``, ``num_puzzle_identifiers``).
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
    if inputs.ndim != 2 or inputs.shape[1] != config.seq_len:
        raise ValueError(
            f"inputs must have shape [batch, seq_len] = [B, {config.seq_len}], got "
            f"{list(inputs.shape)}; flatten each grid to {config.seq_len} tokens (or build the "
            "model with the seq_len of your data)"
        )
    size = inputs.shape[0]
    if size == 0:
        raise ValueError("inputs holds no rows (batch size 0); pass at least one example")
    for key, value in batch.items():
        if not isinstance(key, str):
            raise ValueError(f"batch keys must be strings, got {key!r}")
        if key == "labels":
            _check_tensor(key, value, device, integer=True, shape=tuple(inputs.shape))
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

    vocab, count = config.vocab_size, config.num_puzzle_identifiers
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


__all__ = ["IGNORE_LABEL_ID", "INT_DTYPES", "Batch", "check_batch"]
