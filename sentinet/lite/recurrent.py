"""GRU, LSTM and tanh-RNN encoders in numpy, as torch's ``nn.GRU``/``nn.LSTM``/``nn.RNN`` define
them (sentinet.models.recurrent): gate order, bidirectional, stacked, pooled max/mean/last.

The first layer reads per-word tables (``input_table``: W_ih · e(w) + b_ih + b_hh for every gate
and direction, computed once per word; a GRU's candidate keeps b_hn, which r multiplies); the
loop then runs rows sorted longest first, each step on the rows still inside their text, so
padding is never read — what packing does in torch. The backward direction reads each text
reversed within its own length.
"""

from __future__ import annotations

import numpy as np

from sentinet.config.encoders import RecurrentOptions
from sentinet.lite.ops import Pool, active_rows, reversed_index, sigmoid_

GATES = {"gru": 3, "lstm": 4, "rnn": 1}


def gru_step(gi: np.ndarray, gh: np.ndarray, h: np.ndarray, c: np.ndarray | None, b_n: np.ndarray | None) -> None:
    """r, z = σ(gi + gh) over the first 2H; n = tanh(gi_n + r · (W_hn h + b_hn)); h' = n + z (h − n).
    b_hh's r and z parts are already in ``gi``. New arrays, not in-place views of ``gh``: numpy
    runs whole contiguous arrays several times faster than strided gate slices."""
    hidden = h.shape[-1]
    rz = sigmoid_(gh[..., : 2 * hidden] + gi[..., : 2 * hidden])
    n = gh[..., 2 * hidden:] + b_n
    n *= rz[..., :hidden]
    n += gi[..., 2 * hidden:]
    np.tanh(n, out=n)
    h -= n
    h *= rz[..., hidden:]
    h += n


def lstm_step(gi: np.ndarray, gh: np.ndarray, h: np.ndarray, c: np.ndarray | None, b_n: np.ndarray | None) -> None:
    """Gates i, f, g, o (torch's order): c' = f c + i g; h' = o tanh(c') (b_hh already in ``gi``;
    ``gh``, W_hh h, is a work array the step may overwrite)."""
    hidden = h.shape[-1]
    gh += gi
    sigmoid_(gh[..., : 2 * hidden])
    sigmoid_(gh[..., 3 * hidden:])
    g = gh[..., 2 * hidden: 3 * hidden]
    np.tanh(g, out=g)
    c *= gh[..., hidden: 2 * hidden]
    i = gh[..., :hidden]
    i *= g
    c += i
    np.tanh(c, out=g)
    np.multiply(gh[..., 3 * hidden:], g, out=h)


def rnn_step(gi: np.ndarray, gh: np.ndarray, h: np.ndarray, c: np.ndarray | None, b_n: np.ndarray | None) -> None:
    """h' = tanh(gi + W_hh h + b_hh) (b_hh already in ``gi``)."""
    gh += gi
    np.tanh(gh, out=h)


STEPS = {"gru": gru_step, "lstm": lstm_step, "rnn": rnn_step}


def recurrent_shapes(cell: str, options: RecurrentOptions, input_dim: int) -> dict[str, tuple[int, ...]]:
    """The state-dict entries of ``nn.GRU``/``nn.LSTM``/``nn.RNN`` (under ``encoder.rnn.``)."""
    dirs, hidden = 2 if options.bidirectional else 1, options.hidden_size
    width = GATES[cell] * hidden
    shapes = {}
    for layer in range(options.num_layers):
        inputs = input_dim if layer == 0 else dirs * hidden
        for suffix in ["", "_reverse"][:dirs]:
            shapes.update({f"encoder.rnn.weight_ih_l{layer}{suffix}": (width, inputs),
                           f"encoder.rnn.weight_hh_l{layer}{suffix}": (width, hidden),
                           f"encoder.rnn.bias_ih_l{layer}{suffix}": (width,),
                           f"encoder.rnn.bias_hh_l{layer}{suffix}": (width,)})
    return shapes


class RecurrentLite:
    """[B, T] ids (as rows of the first layer's table) + lengths → [B, output_dim]."""

    min_steps = 1  # a text of one token is a whole input

    def __init__(self, cell: str, options: RecurrentOptions, arrays: dict[str, np.ndarray]):
        self.cell, self.step = cell, STEPS[cell]
        self.hidden, self.layers = options.hidden_size, options.num_layers
        self.dirs = 2 if options.bidirectional else 1
        self.pooling = options.pooling
        self.output_dim = self.hidden * self.dirs
        suffixes = ["", "_reverse"][: self.dirs]

        def stacked(name: str, layer: int) -> list[np.ndarray]:
            return [arrays[f"encoder.rnn.{name}_l{layer}{s}"] for s in suffixes]

        self.w_ih = [[w.T.copy() for w in stacked("weight_ih", i)] for i in range(self.layers)]
        self.w_hh = [np.stack([w.T for w in stacked("weight_hh", i)]) for i in range(self.layers)]
        # b_hh joins b_ih in the input products, so no step adds it, except a GRU's candidate
        # part, which r multiplies: r · (W_hn h + b_hn).
        self.b_ih, self.b_n = [], []
        for i in range(self.layers):
            b_hh = [b.copy() for b in stacked("bias_hh", i)]
            self.b_n.append(np.stack([b[2 * self.hidden:] for b in b_hh])[:, None, :] if cell == "gru" else None)
            if cell == "gru":
                for b in b_hh:
                    b[2 * self.hidden:] = 0
            self.b_ih.append([b + extra for b, extra in zip(stacked("bias_ih", i), b_hh)])

    def input_table(self, vectors: np.ndarray) -> np.ndarray:
        """[V, D] → [V, dirs · G · H]: the first layer's W_ih · e + b_ih (+ b_hh as folded in
        ``__init__``), every gate and direction."""
        return np.concatenate([vectors @ w + b for w, b in zip(self.w_ih[0], self.b_ih[0])], axis=1)

    def forward(self, table: np.ndarray, slots: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The tweet vectors of rows ``slots`` [B, T] of ``table``, in the batch's order."""
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        steps = int(lengths[0])
        slots = slots[order, :steps]
        width = table.shape[1] // self.dirs
        per_direction = [slots] if self.dirs == 1 else \
            [slots, np.take_along_axis(slots, reversed_index(lengths, steps), 1)]
        gi = np.empty((steps, self.dirs, len(slots), width), np.float32)
        for d, rows in enumerate(per_direction):
            gi[:, d] = table[rows.T, d * width:(d + 1) * width]
        active = active_rows(lengths, steps)
        for layer in range(self.layers):
            last = layer == self.layers - 1
            pool, states = self._run_layer(gi, active, layer, keep_states=not last)
            if not last:
                gi = self._next_input(states, lengths, layer + 1)
        out = pool.result(lengths)
        return out[np.argsort(order)]

    def _run_layer(self, gi: np.ndarray, active: list[int], layer: int,
                   keep_states: bool) -> tuple[Pool, np.ndarray | None]:
        """One layer over time-major input products ``gi`` [T, dirs, B, G·H]; returns the pooled
        states and, for the layer above, every step's [T, dirs, B, H] (zero past a row's end)."""
        steps, dirs, batch, _ = gi.shape
        h = np.zeros((dirs, batch, self.hidden), np.float32)
        c = np.zeros_like(h) if self.cell == "lstm" else None
        pool = Pool(self.pooling, dirs, batch, self.hidden)
        states = np.zeros((steps, dirs, batch, self.hidden), np.float32) if keep_states else None
        w, b_n = self.w_hh[layer], self.b_n[layer]
        for t, n in enumerate(active):
            now = h[:, :n]
            gh = np.matmul(now, w)
            self.step(gi[t, :, :n], gh, now, None if c is None else c[:, :n], b_n)
            if states is not None:
                states[t, :, :n] = now
            elif self.pooling != "last":
                pool.add(n, now)
        if self.pooling == "last" and states is None:
            pool.value = h  # each row's state stopped at its last real step
        return pool, states

    def _next_input(self, states: np.ndarray, lengths: np.ndarray, layer: int) -> np.ndarray:
        """Layer ``layer``'s input products [T, dirs, B, G·H] from the states [T, dirs, B, H] of
        the one below: both directions in time order make its input, and its own backward
        direction reads that from each row's last real token."""
        steps, dirs, batch, hidden = states.shape
        x = states.transpose(2, 0, 1, 3)  # [B, T, dirs, H]
        index = reversed_index(lengths, steps)[:, :, None]
        if dirs == 2:
            backward = np.take_along_axis(x[:, :, 1], index, 1)
            x = np.stack([x[:, :, 0], backward], 2)
        x = x.reshape(batch, steps, dirs * hidden)
        width = self.w_ih[layer][0].shape[1]
        gi = np.empty((steps, dirs, batch, width), np.float32)
        for d, (w, b) in enumerate(zip(self.w_ih[layer], self.b_ih[layer])):
            read = x if d == 0 else np.take_along_axis(x, index, 1)
            gi[:, d] = (read.transpose(1, 0, 2).reshape(steps * batch, -1) @ w + b).reshape(steps, batch, width)
        return gi
