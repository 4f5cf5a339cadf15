"""The networks: nn.Modules only. The encoders' registry and options are config schema
(sentinet.config.encoders); this package builds what they name.

An encoder is an ``nn.Module`` built from (options, input_dim) with an ``output_dim``
attribute and ``forward(vectors [B, T, D], lengths [B]) -> [B, output_dim]``.

Importing this package does not import torch: a registry entry names its builder as
``"module:Class"`` and the module is imported the first time an encoder is built, so
``sentinet train`` checks a config (and says what is wrong with it) before torch starts.
"""

from __future__ import annotations

import importlib
from functools import partial
from typing import TYPE_CHECKING

from sentinet.config.encoders import ENCODERS
from sentinet.config.fields import EncoderOptions

if TYPE_CHECKING:
    from torch import nn


def build_encoder(options: EncoderOptions, input_dim: int) -> nn.Module:
    """The encoder ``options.name`` names; importing its module imports torch."""
    spec = ENCODERS[options.name]
    module, name = spec.builder.split(":")
    cls = getattr(importlib.import_module(f"sentinet.models.{module}"), name)
    return (partial(cls, *spec.args) if spec.args else cls)(options, input_dim)
