"""CNN for sentence classification (Kim 2014): parallel convolutions, max over time.

Narrow convolutions of several widths slide over the word vectors; each filter keeps its
maximum over the positions whose window lies inside the tweet, so padding never wins the
max. A tweet shorter than a filter is zero-padded to one window, alone or in a batch alike.

At inference the word vectors are frozen, so each filter slice's dot product with a word is
too: ``input_table`` computes them once per word, and ``forward_table`` only adds the rows of
each window's words, which replaces the convolutions' GEMMs with a gather and a few adds.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentinet.config.encoders import CNNOptions
from sentinet.models.pooling import length_mask, masked_max


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

    def input_table(self, vectors: Tensor) -> Tensor:
        """[V, D] word vectors → [V, K]: each word's dot products with every filter slice,
        K = filters · sum(widths), ordered by width, then offset in the window, then filter, so
        that one offset's columns are contiguous. No bias: the zero vector (PAD) gets a zero
        row, just as forward's zero padding contributes nothing to a window."""
        # conv.weight [F, D, w] → [D, w·F]: column k·F + f is filter f's slice at offset k.
        weights = [conv.weight.permute(1, 2, 0).reshape(vectors.size(1), -1) for conv in self.convs]
        return vectors @ torch.cat(weights, 1)

    def forward_table(self, table: Tensor, ids: Tensor, lengths: Tensor) -> Tensor:
        """forward()'s [B, output_dim] from ``input_table``'s rows for ``ids`` [B, T] (eval mode;
        equal within float rounding). Seen as [V·S, filters] blocks (S = sum(widths)), the
        table's block id·S + j is block j of word id, so each window's conv sum is one bag of
        ``embedding_bag``: gather and add in one pass, no [B, T, K] copy. Max and relu commute,
        as do max and adding the bias (both monotone), so they act on the pooled [B, F] only."""
        filters, stride = self.convs[0].out_channels, sum(self.widths)
        blocks = table.contiguous().view(-1, filters)
        batch, steps = ids.shape
        padded = max(steps, max(self.widths))  # forward zero-pads a short batch to one window
        ids, weights = F.pad(ids, (0, padded - steps)), None
        if padded > steps:  # padding's blocks weigh 0: the ids may be a batch-local table's
            weights = (torch.arange(padded, device=ids.device) < steps).to(table.dtype)
        lengths = lengths.to(ids.device)
        first_block, pooled = 0, []
        for width, conv in zip(self.widths, self.convs):
            span = padded - width + 1  # window starts, as the convolution's output
            offsets = torch.arange(first_block, first_block + width, device=ids.device)
            bags = (ids.unfold(1, width, 1) * stride + offsets).reshape(-1, width)  # [B·span, width]
            bag_weights = None if weights is None else weights.unfold(0, width, 1).repeat(batch, 1)
            feature_map = F.embedding_bag(bags, blocks, mode="sum", per_sample_weights=bag_weights)
            feature_map = feature_map.view(batch, span, filters)
            first_block += width
            windows = (lengths - width + 1).clamp(min=1)  # windows that start inside the tweet
            feature_map.masked_fill_(~length_mask(windows, span).unsqueeze(-1), float("-inf"))
            pooled.append((feature_map.amax(1) + conv.bias).relu())
        return torch.cat(pooled, dim=1)
