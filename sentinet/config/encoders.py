"""The encoder registry and every encoder's options, apart from its torch code: a config is
checked against these before torch is imported, so a typo in a YAML file costs milliseconds,
not a torch start. Adding an encoder = one module in sentinet/models/ + one entry in
``ENCODERS`` here (with its options class when no existing one fits).

An encoder's options are a dataclass subclassing ``EncoderOptions``; the YAML
``model.encoder`` mapping is validated against it (unknown keys, types and ranges).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sentinet.errors import SentinetError
from sentinet.config.fields import EncoderOptions, bounded, choice

# Upper bounds on an encoder's size: far above any tweet model, far below what a typo or a
# search space reaching 1e11 would try to allocate (terabytes) before anything said no.
MAX_UNITS, MAX_LAYERS, MAX_WIDTH = 4096, 16, 64


@dataclass
class CNNOptions(EncoderOptions):
    widths: list[int] = bounded([3, 4, 5], ge=1, le=MAX_WIDTH)  # filter widths in words
    filters: int = bounded(100, ge=1, le=MAX_UNITS)  # per width

    def __post_init__(self) -> None:
        if not self.widths:
            raise SentinetError("model.encoder.widths: [] must hold at least one filter width")


@dataclass
class RecurrentOptions(EncoderOptions):
    hidden_size: int = bounded(128, ge=1, le=MAX_UNITS)  # per direction
    num_layers: int = bounded(1, ge=1, le=MAX_LAYERS)  # stacked layers
    bidirectional: bool = True  # a backward pass too; outputs are concatenated
    dropout: float = bounded(0.0, ge=0, lt=1)  # between stacked layers
    pooling: str = choice("max", "last", "mean")  # last: final state of each direction


@dataclass
class SRUOptions(RecurrentOptions):
    """The recurrent encoders' options; SRU layers are cheap, so two by default."""

    num_layers: int = bounded(2, ge=1, le=MAX_LAYERS)


@dataclass(frozen=True)
class EncoderSpec:
    options: type[EncoderOptions]
    builder: str  # "module:Class" under sentinet.models, imported when the encoder is built
    args: tuple[Any, ...] = ()  # given before (options, input_dim): the cell of a recurrent encoder


ENCODERS: dict[str, EncoderSpec] = {
    "cnn": EncoderSpec(CNNOptions, "cnn:CNNEncoder"),
    "rnn": EncoderSpec(RecurrentOptions, "recurrent:RecurrentEncoder", ("rnn",)),
    "lstm": EncoderSpec(RecurrentOptions, "recurrent:RecurrentEncoder", ("lstm",)),
    "gru": EncoderSpec(RecurrentOptions, "recurrent:RecurrentEncoder", ("gru",)),
    "sru": EncoderSpec(SRUOptions, "sru.encoder:SRUEncoder"),
}

# What ``model.encoder`` is checked against when a config is loaded.
ENCODER_OPTIONS: dict[str, type[EncoderOptions]] = {name: spec.options for name, spec in ENCODERS.items()}
