"""CNN for sentence classification (Kim 2014): parallel convolutions, max over time.

Narrow convolutions of several widths slide over the word vectors; each filter keeps its
maximum over the positions whose window lies inside the tweet, so padding never wins the
max. A tweet shorter than a filter is zero-padded to one window, alone or in a batch alike.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentinet.config.encoders import CNNOptions
from sentinet.models.pooling import masked_max


class CNNEncoder(nn.Module):
    def __init__(self, options: CNNOptions, input_dim: int):
        super().__init__()
        self.widths = list(options.widths)
        self.convs = nn.ModuleList(nn.Conv1d(input_dim, options.filters, w) for w in self.widths)
        self.output_dim = options.filters * len(self.widths)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        x = x.transpose(1, 2)  # [B, D, T]: Conv1d wants channels first
        # A traced graph (ONNX export) must serve every length, so it always pads for the
        # widest filter; windows past a tweet's end are masked below either way.
        shortfall = max(self.widths) - (1 if torch.jit.is_tracing() else x.size(2))
        if shortfall > 0:
            x = F.pad(x, (0, shortfall))
        lengths = lengths.to(x.device)
        pooled = []
        for width, conv in zip(self.widths, self.convs):
            feature_map = F.relu(conv(x)).transpose(1, 2)  # [B, T - width + 1, filters]
            windows = (lengths - width + 1).clamp(min=1)  # windows that start inside the tweet
            pooled.append(masked_max(feature_map, windows))
        return torch.cat(pooled, dim=1)
