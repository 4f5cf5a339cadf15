"""Encoder registry: adding an encoder = one module + one entry here (and its options class
in sentinet/models/options.py).

An encoder is an ``nn.Module`` built from (options, input_dim) with an ``output_dim``
attribute and ``forward(vectors [B, T, D], lengths [B]) -> [B, output_dim]``. Its options
are a dataclass subclassing ``EncoderOptions``; the YAML ``model.encoder`` mapping is
validated against it, so unknown keys are caught when the config is loaded.

Importing this package does not import torch: an entry names its builder as
``"module:Class"`` and the module is imported the first time an encoder is built, so
``sentinet train`` checks a config (and says what is wrong with it) before torch starts.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from sentinet.fields import EncoderOptions
from sentinet.models.options import CNNOptions, RecurrentOptions, SRUOptions

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class EncoderSpec:
    options: type[EncoderOptions]
    builder: str  # "module:Class" under sentinet.models
    args: tuple[Any, ...] = ()  # given before (options, input_dim): the cell of a recurrent encoder

    @property
    def build(self):
        """The callable (options, input_dim) → nn.Module; importing its module imports torch."""
        module, name = self.builder.split(":")
        cls = getattr(importlib.import_module(f"sentinet.models.{module}"), name)
        return partial(cls, *self.args) if self.args else cls


ENCODERS: dict[str, EncoderSpec] = {
    "cnn": EncoderSpec(CNNOptions, "cnn:CNNEncoder"),
    "rnn": EncoderSpec(RecurrentOptions, "recurrent:RecurrentEncoder", ("rnn",)),
    "lstm": EncoderSpec(RecurrentOptions, "recurrent:RecurrentEncoder", ("lstm",)),
    "gru": EncoderSpec(RecurrentOptions, "recurrent:RecurrentEncoder", ("gru",)),
    "sru": EncoderSpec(SRUOptions, "sru:SRUEncoder"),
}


ENCODER_OPTIONS: dict[str, type[EncoderOptions]] = {name: spec.options for name, spec in ENCODERS.items()}


def build_encoder(options: EncoderOptions, input_dim: int) -> nn.Module:
    return ENCODERS[options.name].build(options, input_dim)
