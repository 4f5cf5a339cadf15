"""The building blocks of typed config sections, shared by ``sentinet.config`` and the
encoders' own option classes (which must not import the config module: it sits above them
only through the registry it is handed).

``bounded`` and ``choice`` declare a field's allowed values in its metadata; the config
builder checks them for YAML and ``--set`` alike. ``EncoderOptions`` is the base of every
encoder's options: its ``name`` picks the encoder from the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
