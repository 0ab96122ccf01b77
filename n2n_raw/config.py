"""Dataclass configurations and their command-line flags.

Each configuration is a dataclass whose fields carry ``help`` text in their metadata; :func:`add_arguments`
turns it into argparse flags (``--field-name``) and :func:`from_arguments` back into the dataclass. Parsing
is strict: an unknown flag is an error, never ignored. A ``Literal[...]`` annotation gives the flag its
choices; :func:`check_choices` enforces them on objects built in Python too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from .errors import N2NError

T = TypeVar("T")


def arg(default: Any, help: str) -> Any:  # noqa: A002 - argparse's word
    """A dataclass field with a help text for the command line (choices come from a ``Literal`` type)."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("use tuples for sequence defaults")
    return dataclasses.field(default=default, metadata={"help": help})


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(type, is_optional) for annotations like ``int``, ``float | None``, ``tuple[int, ...]``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], True
    return tp, False


def literal_choices(tp: Any) -> tuple | None:
    """The allowed values of a ``Literal[...]`` annotation, else None."""
    return typing.get_args(tp) if typing.get_origin(tp) is typing.Literal else None


def check_choices(config: Any) -> None:
    """Raise :class:`N2NError` naming the flag when a ``Literal`` field holds a value outside its choices."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        tp, optional = _base_type(hints[f.name])
        choices = literal_choices(tp)
        value = getattr(config, f.name)
        if choices and not (optional and value is None) and value not in choices:
            flag = "--" + f.name.replace("_", "-")
            raise N2NError(f"{flag} {value!r}: choose one of {', '.join(map(str, choices))}")


def add_arguments(parser: argparse.ArgumentParser, cls: type, exclude: tuple[str, ...] = ()) -> None:
    """Add one ``--flag`` per field of dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(cls.__name__)
    for f in dataclasses.fields(cls):
        if f.name in exclude:
            continue
        tp, _ = _base_type(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "")
        default = f.default if f.default is not dataclasses.MISSING else None
        # argparse %-formats help texts: a literal '%' (e.g. "100 %") must reach it doubled.
        shown = f"{help_text} (default: {default})".replace("%", "%%")
        kwargs: dict[str, Any] = {"dest": f.name, "help": shown}
        choices = literal_choices(tp)
        if choices:
            kwargs["choices"] = choices
            tp = type(choices[0])
        if tp is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, **kwargs)
        elif typing.get_origin(tp) is tuple:
            (elem, *_) = typing.get_args(tp)
            group.add_argument(flag, type=elem, nargs="*", default=default, **kwargs)
        else:
            group.add_argument(flag, type=tp, default=default, **kwargs)


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


def read_config_file(path: str | os.PathLike) -> dict:
    """The options in a TOML (``.toml``), YAML (``.yaml``/``.yml``, needs PyYAML) or JSON file, as a dict."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise N2NError(f"{path}: cannot read the configuration file ({exc.strerror})") from None
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            values = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise N2NError(
                    f"{path}: YAML configuration files need PyYAML (pip install pyyaml); TOML and JSON work without it"
                ) from None
            values = yaml.safe_load(text)
        else:
            values = json.loads(text)
    except (ValueError, TypeError) as exc:  # tomllib.TOMLDecodeError, json.JSONDecodeError and yaml's errors
        raise N2NError(f"{path}: not a valid configuration file ({str(exc).splitlines()[0][:160]})") from None
    except Exception as exc:  # noqa: BLE001 - yaml.YAMLError does not derive from ValueError
        raise N2NError(f"{path}: not a valid configuration file ({type(exc).__name__})") from None
    if not isinstance(values, dict):
        raise N2NError(f"{path}: a configuration file holds one table of option = value")
    return values


def to_dict(config: Any) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config)))


def from_dict(cls: type[T], data: dict) -> T:
    """Rebuild ``cls`` from a stored dict; unknown keys are an error, missing keys take defaults."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise N2NError(f"unknown {cls.__name__} fields: {', '.join(sorted(unknown))}")
    hints = typing.get_type_hints(cls)
    values = {}
    for k, v in data.items():
        tp, _ = _base_type(hints[k])
        values[k] = tuple(v) if typing.get_origin(tp) is tuple and v is not None else v
    return cls(**values)
