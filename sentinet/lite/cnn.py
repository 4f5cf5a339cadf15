"""Kim's CNN in numpy, as sentinet.models.cnn computes it: each filter's maximum over the
windows that start inside the tweet, a tweet shorter than the widest filter zero-padded to
one window (the caller pads ids to ``min_steps`` with <pad>, whose vector is zero).

Each word's dot products with every filter slice come from the per-word table, so a window's
convolution is a sum of its words' rows; max and relu commute, as do max and the bias."""

from __future__ import annotations

import numpy as np

from sentinet.config.encoders import CNNOptions


def cnn_shapes(options: CNNOptions, input_dim: int) -> dict[str, tuple[int, ...]]:
    """The state-dict entries of the encoder's ``nn.Conv1d`` layers."""
    shapes = {}
    for i, width in enumerate(options.widths):
        shapes[f"encoder.convs.{i}.weight"] = (options.filters, input_dim, width)
        shapes[f"encoder.convs.{i}.bias"] = (options.filters,)
    return shapes


class CNNLite:
    """[B, T] ids (as table rows) + lengths → [B, filters · len(widths)]."""

    def __init__(self, options: CNNOptions, arrays: dict[str, np.ndarray]):
        self.widths, self.filters = list(options.widths), options.filters
        self.min_steps = max(self.widths)
        self.output_dim = self.filters * len(self.widths)
        convs = [arrays[f"encoder.convs.{i}.weight"] for i in range(len(self.widths))]
        # conv.weight [F, D, w] → [D, w·F]: column k·F + f is filter f's slice at offset k.
        self.weight = np.concatenate([w.transpose(1, 2, 0).reshape(w.shape[1], -1) for w in convs], 1)
        self.biases = [arrays[f"encoder.convs.{i}.bias"] for i in range(len(self.widths))]

    def input_table(self, vectors: np.ndarray) -> np.ndarray:
        """[V, D] → [V, filters · sum(widths)]: ordered by width, then offset, then filter."""
        return vectors @ self.weight

    def forward(self, table: np.ndarray, slots: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        rows = table[slots]  # [B, P, S·F], P >= the widest filter
        batch, padded = slots.shape
        filters, block, pooled = self.filters, 0, []
        for width, bias in zip(self.widths, self.biases):
            span = padded - width + 1  # window starts, as the convolution's output
            feature_map = rows[:, :span, block * filters:(block + 1) * filters].copy()
            for k in range(1, width):
                feature_map += rows[:, k:k + span, (block + k) * filters:(block + k + 1) * filters]
            windows = np.maximum(lengths - width + 1, 1)  # windows that start inside the tweet
            feature_map[np.arange(span)[None, :] >= windows[:, None]] = -np.inf
            pooled.append(np.maximum(feature_map.max(axis=1) + bias, 0))
            block += width
        return np.concatenate(pooled, axis=1)
