"""Dataclass configurations and their command-line flags.

Each configuration is a dataclass whose fields carry ``help`` text in their metadata; :func:`add_arguments`
turns it into argparse flags (``--field-name``) and :func:`from_arguments` back into the dataclass. Parsing
is strict: an unknown flag is an error, never ignored.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def arg(default: Any, help: str, choices: tuple | None = None) -> Any:  # noqa: A002 - argparse's word
    """A dataclass field with a help text (and optional choices) for the command line."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("use tuples for sequence defaults")
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(type, is_optional) for annotations like ``int``, ``float | None``, ``tuple[int, ...]``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], True
    return tp, False


def add_arguments(parser: argparse.ArgumentParser, cls: type, exclude: tuple[str, ...] = ()) -> None:
    """Add one ``--flag`` per field of dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(cls.__name__)
    for f in dataclasses.fields(cls):
        if f.name in exclude:
            continue
        tp, optional = _base_type(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "")
        default = f.default if f.default is not dataclasses.MISSING else None
        kwargs: dict[str, Any] = {"dest": f.name, "help": f"{help_text} (default: {default})"}
        if f.metadata.get("choices"):
            kwargs["choices"] = f.metadata["choices"]
        if tp is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, **kwargs)
        elif typing.get_origin(tp) is tuple:
            (elem, *_) = typing.get_args(tp)
            group.add_argument(flag, type=elem, nargs="*", default=default, **kwargs)
        else:
            group.add_argument(flag, type=tp, default=default, **kwargs)
        del optional


def from_arguments(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """Build dataclass ``cls`` from parsed arguments (fields missing from ``args`` keep their defaults)."""
    values = {}
    for f in dataclasses.fields(cls):
        if hasattr(args, f.name):
            value = getattr(args, f.name)
            if isinstance(value, list):
                value = tuple(value)
            values[f.name] = value
    values.update(overrides)
    return cls(**values)


def to_dict(config: Any) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config)))


def from_dict(cls: type[T], data: dict) -> T:
    """Rebuild ``cls`` from a stored dict; unknown keys are an error, missing keys take defaults."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for k, v in data.items():
        tp, _ = _base_type(hints[k])
        values[k] = tuple(v) if typing.get_origin(tp) is tuple and v is not None else v
    return cls(**values)
