"""SRU (sentinet.models.sru.encoder) in numpy: per layer and direction, from the projections
x̃, u_f, u_r (and a 4th, the highway, when the input's size differs from the hidden size)::

    f_t = σ(u_f + b_f + v_f ⊙ c_{t-1});  r_t = σ(u_r + b_r + v_r ⊙ c_{t-1})
    c_t = f_t ⊙ c_{t-1} + (1 − f_t) ⊙ x̃_t;  h_t = r_t ⊙ c_t + (1 − r_t) ⊙ highway_t

The first layer's projections (and the word itself, its highway) come from the per-word
table; rows run sorted longest first, the backward direction over each text reversed within
its length, both directions in one elementwise step.
"""

from __future__ import annotations

import numpy as np

from sentinet.config.encoders import SRUOptions
from sentinet.lite.ops import Pool, active_rows, reversed_index, sigmoid_


def sru_dims(options: SRUOptions, input_dim: int) -> list[int]:
    dirs = 2 if options.bidirectional else 1
    return [input_dim] + [options.hidden_size * dirs] * (options.num_layers - 1)


def sru_shapes(options: SRUOptions, input_dim: int) -> dict[str, tuple[int, ...]]:
    """The state-dict entries of the encoder's SRU layers."""
    dirs, hidden = 2 if options.bidirectional else 1, options.hidden_size
    shapes = {}
    for i, inputs in enumerate(sru_dims(options, input_dim)):
        k = 3 if inputs == hidden else 4
        shapes.update({f"encoder.layers.{i}.weight.weight": (dirs * k * hidden, inputs),
                       f"encoder.layers.{i}.v": (2, dirs * hidden), f"encoder.layers.{i}.b": (2, dirs * hidden)})
    return shapes


class SRULite:
    """[B, T] ids (as table rows) + lengths → [B, dirs · H]."""

    min_steps = 1

    def __init__(self, options: SRUOptions, arrays: dict[str, np.ndarray], input_dim: int):
        self.hidden = options.hidden_size
        self.dirs = 2 if options.bidirectional else 1
        self.pooling = options.pooling
        self.output_dim = self.hidden * self.dirs
        self.ks = [3 if d == self.hidden else 4 for d in sru_dims(options, input_dim)]
        self.weights = [arrays[f"encoder.layers.{i}.weight.weight"] for i in range(len(self.ks))]
        shape = (2, self.dirs, 1, self.hidden)
        self.v = [arrays[f"encoder.layers.{i}.v"].reshape(shape) for i in range(len(self.ks))]
        self.b = [arrays[f"encoder.layers.{i}.b"].reshape(shape) for i in range(len(self.ks))]

    def input_table(self, vectors: np.ndarray) -> np.ndarray:
        """[V, D] → [V, dirs · k · H (+ D)]: the first layer's projections by direction, then
        projection, then unit; then the word itself when k == 3 (the highway)."""
        projections = vectors @ self.weights[0].T
        return np.concatenate([projections, vectors], 1) if self.ks[0] == 3 else projections

    def forward(self, table: np.ndarray, slots: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        steps, batch = int(lengths[0]), len(lengths)
        slots = slots[order, :steps]
        index = reversed_index(lengths, steps)
        active = active_rows(lengths, steps)
        H, dirs, k = self.hidden, self.dirs, self.ks[0]
        per_direction = [slots] if dirs == 1 else [slots, np.take_along_axis(slots, index, 1)]
        u = np.empty((steps, dirs, batch, k, H), np.float32)
        highway = np.empty((steps, dirs, batch, H), np.float32) if k == 3 else None
        for d, rows in enumerate(per_direction):
            u[:, d] = table[rows.T, d * k * H:(d + 1) * k * H].reshape(steps, batch, k, H)
            if highway is not None:
                highway[:, d] = table[rows.T, dirs * k * H:]
        for layer in range(len(self.ks)):
            last = layer == len(self.ks) - 1
            pool, states = self._recur(layer, u, highway, active, keep_states=not last)
            if not last:
                u, highway = self._next_input(states, index, layer + 1)
        return pool.result(lengths)[np.argsort(order)]

    def _recur(self, layer: int, u: np.ndarray, highway: np.ndarray | None, active: list[int],
               keep_states: bool) -> tuple[Pool, np.ndarray | None]:
        """The layer's recurrence over u [T, dirs, B, k, H] (in each direction's reading order);
        the pooled outputs, and with ``keep_states`` every step's [T, dirs, B, H]."""
        steps, dirs, batch, k, hidden = u.shape
        (v_f, v_r), (b_f, b_r) = self.v[layer], self.b[layer]
        c = np.zeros((dirs, batch, hidden), np.float32)
        pool = Pool(self.pooling, dirs, batch, hidden)
        states = np.zeros((steps, dirs, batch, hidden), np.float32) if keep_states else None
        for t, n in enumerate(active):
            ut, before = u[t, :, :n], c[:, :n]
            f = sigmoid_(ut[:, :, 1] + b_f + v_f * before)
            r = sigmoid_(ut[:, :, 2] + b_r + v_r * before)
            x_tilde = ut[:, :, 0]
            now = x_tilde + f * (before - x_tilde)  # f c + (1 − f) x̃
            c[:, :n] = now
            road = ut[:, :, 3] if k == 4 else highway[t, :, :n]
            h = road + r * (now - road)  # r c + (1 − r) highway
            if states is not None:
                states[t, :, :n] = h
            else:
                pool.add(n, h)
        return pool, states

    def _next_input(self, states: np.ndarray, index: np.ndarray,
                    layer: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Layer ``layer``'s projections (and highway) from the states [T, dirs, B, H] of the one
        below, in each direction's reading order: both directions in time order make the input."""
        steps, dirs, batch, hidden = states.shape
        x = states.transpose(2, 0, 1, 3)  # [B, T, dirs, H], direction 1 still reversed
        if dirs == 2:
            backward = np.take_along_axis(x[:, :, 1], index[:, :, None], 1)
            x = np.stack([x[:, :, 0], backward], 2)
        x = x.reshape(batch, steps, dirs * hidden)
        k, weight = self.ks[layer], self.weights[layer].reshape(dirs, -1, x.shape[-1])
        u = np.empty((steps, dirs, batch, k, hidden), np.float32)
        highway = np.empty((steps, dirs, batch, hidden), np.float32) if k == 3 else None
        for d in range(dirs):
            read = (x if d == 0 else np.take_along_axis(x, index[:, :, None], 1)).transpose(1, 0, 2)
            u[:, d] = (read.reshape(steps * batch, -1) @ weight[d].T).reshape(steps, batch, k, hidden)
            if highway is not None:
                highway[:, d] = read
        return u, highway
