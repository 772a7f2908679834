"""Helpers shared by every layer of the package: atomic file writes and boundary checks.

They live in ``envs`` because it is the bottom layer (numpy and the standard library only):
``trm_rl`` and ``baselines`` import them from here, so there is one rule for each job.

- :func:`atomic_write`: every writer (datasets, pools, checkpoints, CSVs, benchmark results)
  writes a temporary file beside the target and renames it into place, so a reader never sees a
  half-written file and an interrupted write leaves the old file intact.
- :func:`read_utf8`: the text of a data file, or one error naming the file and the line of the
  first byte that is not UTF-8.
- :func:`check_int`, :func:`check_float`, :func:`check_bool`, :func:`check_choice`: strict
  validation of user-facing scalars. ``2.7`` is not silently truncated to ``2``, ``"9"`` is not
  an int, ``NaN`` is not a cost; each error names the argument, the value and what to pass.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "atomic_write",
    "atomic_write_file",
    "check_action",
    "check_actions",
    "check_bool",
    "check_choice",
    "check_float",
    "check_int",
    "check_options",
    "config_from_kwargs",
    "file_signature",
    "per_env_options",
    "per_row",
    "read_utf8",
    "reset_rows",
]


@contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "w", *, encoding: str | None = "utf-8", newline: str = ""
) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` keeps its previous content. The
    parent folder is created when missing.

    :param path: the final file.
    :param mode: ``"w"`` (text) or ``"wb"`` (binary).
    :param encoding: text encoding (ignored in binary mode).
    :param newline: passed to ``open`` in text mode (``""`` suits the ``csv`` module).

    Example::

        with atomic_write("results/runs.csv") as f:
            f.write("a,b\\n")
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    kwargs: dict[str, Any] = {} if mode == "wb" else {"encoding": encoding, "newline": newline}
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_file(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` for a library that writes by file name (``np.savez``,
    ``safetensors.save_file``, ``torch.save``), then rename the temporary file onto ``path``.

    :param path: the final file (its parent folder is created when missing).
    :param write: a function that writes the whole file at the path it is given.
    :return: ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep the target's suffix: some writers (np.savez) append theirs when it is missing.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def file_signature(path: str | os.PathLike) -> tuple[str, int, int]:
    """``(resolved path, mtime_ns, size)``: a cache key that changes when the file is rewritten.

    Readers that cache parsed files key the cache with it, so a file rewritten on disk is read
    again instead of being served stale.
    """
    resolved = Path(path).expanduser().resolve()
    stat = resolved.stat()
    return str(resolved), stat.st_mtime_ns, stat.st_size


def read_utf8(path: str | os.PathLike, what: str) -> str:
    """The whole text of a UTF-8 file; a leading byte-order mark is dropped.

    :param path: the file.
    :param what: how messages name the file, e.g. ``"maze dataset"``.
    :raises ValueError: naming the file when it cannot be read, and the line (1-based) of the
        first byte that is not UTF-8.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ValueError(
            f"cannot read {what} {str(path)!r}: {e.strerror or e}; pass the path of a readable file"
        ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ValueError(
            f"cannot read {what} {str(path)!r}: line {line} is not valid utf-8 ({e.reason}); "
            "save the file as UTF-8 text"
        ) from None


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_int(
    name: str,
    value: Any,
    *,
    low: int | None = None,
    high: int | None = None,
    allow_none: bool = False,
) -> int | None:
    """``value`` as an ``int`` if it is an integer (Python or numpy, not bool) within bounds.

    :param name: the argument's name, for the message.
    :param low: inclusive lower bound, or None.
    :param high: inclusive upper bound, or None.
    :param allow_none: accept ``None`` (returned as is).
    :raises ValueError: naming the argument, the value and the accepted range.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        what = "an int" + (" or None" if allow_none else "")
        raise ValueError(f"{name} must be {what}, got {_describe(value)}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (
            f">= {low}" if high is None else f"<= {high}" if low is None else f"in [{low}, {high}]"
        )
        raise ValueError(f"{name} must be {bounds}, got {value}")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
) -> float:
    """``value`` as a finite ``float`` (ints accepted, bools and strings not) within bounds.

    :raises ValueError: naming the argument, the value and the accepted range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {_describe(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (
            f">= {low}" if high is None else f"<= {high}" if low is None else f"in [{low}, {high}]"
        )
        raise ValueError(f"{name} must be {bounds}, got {value}")
    return value


def check_step_limit(value: Any, dtype: Any, unset: str) -> int | None:
    """A ``max_steps`` value: None or an int >= 1 that fits the integer ``dtype`` the step
    counters are kept in.

    :param unset: what None means, for the message (e.g. ``"4 * H * W"``).
    :raises ValueError: naming the value, the largest accepted one and the fix.
    """
    value = check_int("max_steps", value, low=1, allow_none=True)
    limit = int(np.iinfo(dtype).max)
    if value is not None and value > limit:
        raise ValueError(
            f"max_steps={value} does not fit the {np.dtype(dtype).name} step counters; the "
            f"largest accepted value is {limit} (or pass None for {unset})"
        )
    return value


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a bool (Python or numpy); ``0``/``"yes"`` are refused.

    :raises ValueError: naming the argument and the value.
    """
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise ValueError(f"{name} must be True or False, got {_describe(value)}")


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices``.

    :raises ValueError: naming the argument, the value and the choices.
    """
    if not isinstance(value, str | int | type(None)) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {_describe(value)}")
    return value


_PLAIN_INTS = (int, np.int64, np.int32)


def check_action(action: Any, num_actions: int, valid: str | None = None) -> int:
    """One action of a single env: an integer scalar (Python, numpy or a 0-d integer array) in
    ``[0, num_actions)``. Floats, strings and bools are refused rather than truncated.

    :param valid: how the message describes the valid actions (default ``[0, num_actions)``).
    :raises ValueError: naming the action and the valid range.
    """
    if type(action) in _PLAIN_INTS and 0 <= action < num_actions:  # the hot path of step()
        return int(action)
    valid = valid or f"[0, {num_actions})"
    if isinstance(action, np.ndarray) and action.ndim == 0:
        action = action[()]
    if isinstance(action, bool | np.bool_) or not isinstance(action, numbers.Integral):
        raise ValueError(
            f"action must be an int in {valid}, got {_describe(action)}; "
            "pass an integer scalar (e.g. env.action_space.sample())"
        )
    if not 0 <= int(action) < num_actions:
        raise ValueError(f"action must be in {valid}, got {int(action)}")
    return int(action)


def check_actions(
    actions: Any, num_envs: int, num_actions: int, valid: str | None = None
) -> np.ndarray:
    """The actions of a batched env: an integer array of shape ``(num_envs,)`` with entries in
    ``[0, num_actions)``, returned as int64.

    :param valid: how the message describes the valid actions (default ``[0, num_actions)``).
    :raises ValueError: naming the shape, dtype or out-of-range entries and what to pass.
    """
    valid = valid or f"[0, {num_actions})"
    arr = np.asarray(actions)
    if arr.shape != (num_envs,):
        raise ValueError(
            f"expected {num_envs} actions, one per env (shape ({num_envs},)), got shape "
            f"{arr.shape}; pass a 1-D integer array such as venv.action_space.sample()"
        )
    if arr.dtype.kind not in "iu":
        raise ValueError(f"actions must be integers in {valid}, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if num_envs and (arr.min() < 0 or arr.max() >= num_actions):
        bad = arr[(arr < 0) | (arr >= num_actions)]
        raise ValueError(f"actions must be in {valid}, got {bad[:5].tolist()}")
    return arr


def check_options(options: Any, allowed: Sequence[str], env: str) -> dict[str, Any]:
    """``reset(options=...)`` as a dict whose keys are all in ``allowed``.

    :param env: the env's name, for the message.
    :raises ValueError: for a non-dict or an unknown key, listing the accepted keys.
    """
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ValueError(
            f"{env}.reset options must be a dict or None, got {type(options).__name__}"
        )
    unknown = sorted(set(options) - set(allowed), key=str)
    if unknown:
        raise ValueError(
            f"{env}.reset got unknown option(s) {unknown}; accepted keys are {list(allowed)}"
        )
    return options


# Options of the batched envs: the same rules for both games.
_SINGULAR = {"puzzles": "puzzle", "indices": "index", "solutions": "solution"}


def reset_rows(reset_mask: Any, num_envs: int) -> np.ndarray:
    """The env indices a ``reset_mask`` option selects.

    :raises ValueError: unless it is a (num_envs,) bool array.
    """
    mask = np.asarray(reset_mask)
    if mask.shape != (num_envs,) or mask.dtype != bool:
        raise ValueError(
            f"options['reset_mask'] must be a ({num_envs},) bool array, got "
            f"shape {mask.shape} dtype {mask.dtype}"
        )
    return np.flatnonzero(mask)


def per_env_options(options: dict[str, Any], count: int, plurals: Sequence[str]) -> tuple[Any, ...]:
    """The per-env option lists of a batched reset, in the order of ``plurals`` (e.g.
    ``("puzzles", "indices")``), with each singular form (``puzzle``, ``index``, ``solution``)
    broadcast to every one of the ``count`` reset envs.

    :raises ValueError: when the singular and the plural form of a key are both given.
    """
    out = []
    for plural in plurals:
        singular = _SINGULAR[plural]
        value = options.get(plural)
        if options.get(singular) is not None:
            if value is not None:
                raise ValueError(f"pass options[{singular!r}] or options[{plural!r}], not both")
            value = [options[singular]] * count
        out.append(value)
    return tuple(out)


def per_row(name: str, values: Any, count: int) -> list:
    """An option given per reset env as a list of ``count`` entries (None entries allowed).

    :raises ValueError: for a non-sequence (a lone string included) or a wrong count.
    """
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        single = _SINGULAR.get(name, name)
        raise ValueError(
            f"options[{name!r}] must be a sequence with one entry per reset env, got "
            f"{type(values).__name__}; to give every env the same one use options[{single!r}]"
        )
    values = list(values)
    if len(values) != count:
        raise ValueError(
            f"got {len(values)} {name} for {count} envs to reset; options[{name!r}] needs "
            "one entry per reset env (None entries draw from the pool)"
        )
    return values


def config_from_kwargs(cls: type, config: Any, kwargs: dict[str, Any], example_id: str) -> Any:
    """The config an env is built with: ``config``, the keyword fields, or both when they agree
    (a registered id fixes some fields, e.g. ``trm_rl/Maze-9x9-v0`` fixes ``size``).

    :param cls: the game's config dataclass.
    :param example_id: a registered id whose fixed field the message can cite, and the free
        id to use instead, as ``"trm_rl/Maze-9x9-v0 fixes size: use trm_rl/Maze-v0"``.
    :raises ValueError: for an unknown keyword (listing the fields), a config of another type,
        or a keyword that contradicts ``config``.
    """
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(kwargs) - set(fields))
    if unknown:
        game = cls.__name__.removesuffix("Config")
        raise ValueError(
            f"unknown {game} argument(s) {unknown}; {cls.__name__} fields are {fields} "
            "(plus render_mode, generator and, for the batched env, num_envs)"
        )
    if config is None:
        return cls(**kwargs)
    if not isinstance(config, cls):
        raise ValueError(f"config must be a {cls.__name__}, got {type(config).__name__}")
    if not kwargs:
        return config
    other = dataclasses.replace(config, **kwargs)
    clash = [k for k in kwargs if getattr(other, k) != getattr(config, k)]
    if clash:
        detail = ", ".join(f"{k}: config {getattr(config, k)!r} vs {kwargs[k]!r}" for k in clash)
        raise ValueError(
            f"config= and keyword arguments disagree ({detail}); pass one or the other (a "
            f"registered id such as {example_id} to choose it freely)"
        )
    return config
