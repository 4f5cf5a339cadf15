"""Encoder registry: adding an encoder = one module + one entry here.

An encoder is an ``nn.Module`` built from (options, input_dim) with an ``output_dim``
attribute and ``forward(vectors [B, T, D], lengths [B]) -> [B, output_dim]``. Its options
are a dataclass subclassing ``EncoderOptions``; the YAML ``model.encoder`` mapping is
validated against it, so unknown keys are caught when the config is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from torch import nn

from sentinet.fields import EncoderOptions
from sentinet.models.cnn import CNNEncoder, CNNOptions
from sentinet.models.recurrent import RecurrentEncoder, RecurrentOptions
from sentinet.models.sru import SRUEncoder, SRUOptions


@dataclass(frozen=True)
class EncoderSpec:
    options: type[EncoderOptions]
    build: Callable[[EncoderOptions, int], nn.Module]


ENCODERS: dict[str, EncoderSpec] = {
    "cnn": EncoderSpec(CNNOptions, CNNEncoder),
    "rnn": EncoderSpec(RecurrentOptions, partial(RecurrentEncoder, "rnn")),
    "lstm": EncoderSpec(RecurrentOptions, partial(RecurrentEncoder, "lstm")),
    "gru": EncoderSpec(RecurrentOptions, partial(RecurrentEncoder, "gru")),
    "sru": EncoderSpec(SRUOptions, SRUEncoder),
}


ENCODER_OPTIONS: dict[str, type[EncoderOptions]] = {name: spec.options for name, spec in ENCODERS.items()}


def build_encoder(options: EncoderOptions, input_dim: int) -> nn.Module:
    return ENCODERS[options.name].build(options, input_dim)
