"""Command-line overrides of typed configs: the values a user set, told apart from defaults.

A run's config is resolved from several sources (a data name's recipe, a named preset, the data
itself, the user), in one function per command. To resolve it honestly the resolver must know
which values the user *set*: those win, and a set value that cannot work with the others is
refused rather than replaced. :func:`overrides_of` derives, from a config dataclass, a twin
whose every field is optional and defaults to ``None`` ("not set"), with the original field's
docstring as its ``--help`` text; tyro turns it into nested flags (``--model.H-cycles 3``).

:func:`set_fields` lists what was set, :func:`parse_key_values` reads the older ``KEY=VALUE``
spelling (``--model-set H_cycles=3``) into the same typed form, checked against the field types.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import json
import textwrap
import types
import typing
from collections.abc import Iterable
from typing import Annotated, Any, Literal, Union

import tyro

#: The help hint of an override flag: its default is whatever the resolver picks.
NOT_SET_HINT = "(default: from the recipe / preset)"


def field_docs(cls: type) -> dict[str, str]:
    """``field name -> docstring`` of a dataclass whose fields carry a string literal right
    below them (the convention of this package; tyro reads the same docstrings)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body[0].body  # type: ignore[attr-defined]
        for node, after in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def overrides_of(
    name: str,
    sources: Iterable[type],
    *,
    extra: Iterable[tuple[str, Any, str]] = (),
    skip: Iterable[str] = (),
    doc: str = "",
) -> type:
    """A frozen dataclass whose fields are those of ``sources`` (in order, the first source
    wins for a name several share), each typed ``T | None`` with default ``None``.

    :param name: the class name (tyro shows it in ``--help`` groups).
    :param sources: config dataclasses whose fields become optional overrides.
    :param extra: more fields ``(name, type, help)``, placed first (also optional).
    :param skip: field names of the sources to leave out.
    :param doc: the class docstring.
    """
    skipped = set(skip)
    specs: list[tuple[str, Any, Any]] = []
    seen: set[str] = set()

    def add(field_name: str, tp: Any, help_text: str) -> None:
        seen.add(field_name)
        annotated = Annotated[
            Union[tp, None],  # noqa: UP007 - a runtime type built from a variable
            tyro.conf.arg(help=help_text, help_behavior_hint=NOT_SET_HINT),
        ]
        specs.append((field_name, annotated, dataclasses.field(default=None)))

    for field_name, tp, help_text in extra:
        add(field_name, tp, help_text)
    sources = tuple(sources)
    for source in sources:
        hints = typing.get_type_hints(source)
        docs = field_docs(source)
        for f in dataclasses.fields(source):
            if f.name in seen or f.name in skipped or not f.init:
                continue
            tp = _strip_none(hints[f.name])
            users = [s for s in sources if f.name in {g.name for g in dataclasses.fields(s)}]
            where = "" if len(users) == len(sources) else (
                f" [{', '.join(_short(s) for s in users)}]"
            )  # fmt: skip
            add(f.name, tp, docs.get(f.name, "") + where)
    cls = dataclasses.make_dataclass(name, specs, frozen=True)
    cls.__doc__ = doc or f"Optional overrides of {', '.join(s.__name__ for s in sources)}."
    cls.__module__ = __name__
    return cls


def _short(cls: type) -> str:
    return getattr(cls, "kind", cls.__name__)


def _strip_none(tp: Any) -> Any:
    """``T | None`` -> ``T`` (the override adds its own None)."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (Union, types.UnionType) and type(None) in args:
        rest = tuple(a for a in args if a is not type(None))
        return rest[0] if len(rest) == 1 else Union[rest]  # noqa: UP007
    return tp


def set_fields(overrides: Any) -> dict[str, Any]:
    """The fields of an override instance that were set (not None), as a dict."""
    if overrides is None:
        return {}
    return {
        f.name: getattr(overrides, f.name)
        for f in dataclasses.fields(overrides)
        if getattr(overrides, f.name) is not None
    }


def parse_key_values(items: Iterable[str], cls: type, flag: str) -> dict[str, Any]:
    """``["H_cycles=3", "givens=[30,35]", "mixer=conv"]`` -> typed values for the fields of
    the override class ``cls`` (values parsed as JSON where they parse, lists become tuples).

    :raises ValueError: for an item without ``=``, an unknown field (listing the known ones) or
        a value of the wrong type (naming the type the field takes).
    """
    known = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls, include_extras=False)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{flag} takes KEY=VALUE items, got {item!r}")
        if key not in known:
            raise ValueError(
                f"{flag} {item!r}: unknown field {key!r}; known fields: {sorted(known)}"
            )
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key] = coerce(value, _strip_none(hints[key]), f"{flag} {key}")
    return out


def coerce(value: Any, tp: Any, where: str) -> Any:
    """``value`` checked against the type ``tp`` (lists -> tuples, ints -> floats where a float
    is expected); raises a ValueError naming ``where`` and the expected type otherwise."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        return coerce(value, args[0], where)
    if origin in (Union, types.UnionType):
        for option in args:
            try:
                return coerce(value, option, where)
            except ValueError:
                continue
        raise ValueError(f"{where}: {value!r} is not a {_type_name(tp)}")
    if origin is Literal:
        if value in args:
            return value
        raise ValueError(f"{where}: {value!r} is not one of {list(args)}")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where}: {value!r} is not a {_type_name(tp)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], where) for v in value)
        if len(args) != len(value):
            raise ValueError(f"{where}: {value!r} is not a {_type_name(tp)}")
        return tuple(coerce(v, a, where) for v, a in zip(value, args, strict=True))
    if tp is type(None):
        if value is None:
            return None
        raise ValueError(f"{where}: {value!r} is not None")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{where}: {value!r} is not a bool (true or false)")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"{where}: {value!r} is not an int")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ValueError(f"{where}: {value!r} is not a number")
    if tp is str:
        if isinstance(value, str):
            return value
        return json.dumps(value)
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    if isinstance(tp, type) and isinstance(value, str):
        return tp(value)  # e.g. Path
    raise ValueError(f"{where}: {value!r} is not a {_type_name(tp)}")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def combine(primary: dict[str, Any], older: dict[str, Any], flag: str, newer: str) -> dict:
    """Fields set by the nested flags (``primary``, under ``--newer.FIELD``) and by an older
    spelling (``older``, from ``flag``); the same field set to two values is refused.

    :raises ValueError: naming both flags and asking for one.
    """
    for key, value in older.items():
        if key in primary and primary[key] != value:
            raise ValueError(
                f"{flag} sets {key}={value!r} but {newer}.{key.replace('_', '-')} sets "
                f"{primary[key]!r}; give it once"
            )
    return {**older, **primary}


__all__ = [
    "NOT_SET_HINT",
    "coerce",
    "combine",
    "field_docs",
    "overrides_of",
    "parse_key_values",
    "set_fields",
]
