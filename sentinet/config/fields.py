"""The building blocks of typed config sections, shared by ``sentinet.config.schema`` and the
encoders' own option classes (which must not import the config module: it sits above them
only through the registry it is handed).

``bounded`` and ``choice`` declare a field's allowed values in its metadata; the config
builder checks them for YAML and ``--set`` alike. ``EncoderOptions`` is the base of every
encoder's options: its ``name`` picks the encoder from the registry.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sentinet.errors import SentinetError


def whole_number(value: Any, name: str, least: int = 1) -> int:
    """A count given from Python (``seeds=``, ``threads=``, ``steps=``): an int, not a bool, of
    at least ``least``; anything else is the one-line error the CLI would give."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise SentinetError(f"{name}: {value!r} must be a whole number of at least {least}")
    return value


def choice(default: str, *choices: str) -> Any:
    """A string field restricted to ``choices`` (checked when the config is built)."""
    return field(default=default, metadata={"choices": (default, *choices)})


@dataclass(frozen=True)
class Range:
    """The allowed values of a number (or of each number in a list): bounds ``ge``/``gt``
    below and ``le``/``lt`` above, any of them absent."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def __contains__(self, x: float) -> bool:  # written so that NaN is never inside
        return ((self.ge is None or x >= self.ge) and (self.gt is None or x > self.gt)
                and (self.le is None or x <= self.le) and (self.lt is None or x < self.lt))

    def __str__(self) -> str:
        parts = [f"{op} {number_text(bound)}" for op, bound in
                 (("≥", self.ge), (">", self.gt), ("≤", self.le), ("<", self.lt)) if bound is not None]
        return " and ".join(parts)


def number_text(x: float) -> str:
    """A bound as a person writes it: 1, 0.5, 1e-06."""
    return str(x) if isinstance(x, int) else f"{x:g}"


def bounded(default: Any, *, ge: float | None = None, gt: float | None = None,
            le: float | None = None, lt: float | None = None) -> Any:
    """A number field (or list of numbers) restricted to a range, checked when the config is
    built, so YAML and ``--set`` meet one rule; null stays allowed where the type allows it."""
    metadata = {"range": Range(ge, gt, le, lt)}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class EncoderOptions:
    """Base of every encoder's options; ``name`` picks the encoder from the registry."""

    name: str = "gru"


# --------------------------------------------------------------------------------------
# Checking one value against its field: type, range, and names for the error messages


def check_range(x: Any, bounds: Range, where: str, or_null: str) -> None:
    """Numbers only: null and the strings a field may also take (class_weights) pass."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return
    if not math.isfinite(x):
        raise SentinetError(f"{where}: {x} is not a finite number; it must be {bounds}{or_null}")
    if x not in bounds:
        raise SentinetError(f"{where}: {x!r} must be {bounds}{or_null}")


def coerce(hint: Any, value: Any, where: str) -> Any:
    """Check ``value`` against a simple type hint (str, int, float, bool, X | None, list[X])."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(arg, value, where)
            except SentinetError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is list:
        (item,) = typing.get_args(hint)
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list):
            raise SentinetError(f"{where}: expected a list, got {value!r}")
        return [coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML reads 5e-4 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (date, datetime)):  # YAML reads 2014-07-01 as a date
            return value.isoformat()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
    else:
        return value
    raise SentinetError(f"{where}: expected {hint.__name__}, got {value!r}")


def unknown_key(key: str, where: str, valid: list[str]) -> str:
    return f"unknown config key '{join_key(where, key)}'{suggest_name(key, valid)}"


def suggest_name(word: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(word, valid, n=1, cutoff=0.5)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (valid: {', '.join(valid)})"


def join_key(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
