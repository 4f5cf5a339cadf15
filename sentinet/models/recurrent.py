"""Vanilla RNN (tanh), LSTM and GRU encoders over packed padded sequences.

The three share one module: they differ only in the torch cell class. Packing means the
recurrence never runs over padding, so a tweet's encoding is the same alone or in a batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sentinet.config.encoders import RecurrentOptions
from sentinet.models.pooling import masked_max, masked_mean
from sentinet.models.recurrent_steps import reversed_index, run_layer

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentEncoder(nn.Module):
    """[B, T, D] word vectors + lengths → [B, output_dim] tweet vector."""

    def __init__(self, cell: str, options: RecurrentOptions, input_dim: int):
        super().__init__()
        extra = {"nonlinearity": "tanh"} if cell == "rnn" else {}
        self.rnn = CELLS[cell](
            input_dim,
            options.hidden_size,
            num_layers=options.num_layers,
            bidirectional=options.bidirectional,
            dropout=options.dropout if options.num_layers > 1 else 0.0,
            batch_first=True,
            **extra,
        )
        self.pooling = options.pooling
        self.cell = cell
        self.num_directions = 2 if options.bidirectional else 1
        self.output_dim = options.hidden_size * self.num_directions
        self._init_weights(cell, options.hidden_size)

    def _init_weights(self, cell: str, hidden: int) -> None:
        """Orthogonal recurrent weights; LSTM forget-gate bias 1 so early gradients flow."""
        for name, param in self.rnn.named_parameters():
            if name.startswith("weight_hh"):
                for gate in param.data.split(hidden, dim=0):
                    nn.init.orthogonal_(gate)
            elif name.startswith("bias"):
                nn.init.zeros_(param)
                if cell == "lstm" and name.startswith("bias_ih"):
                    param.data[hidden : 2 * hidden] = 1.0  # gate order: input, forget, cell, output

    token_states = True  # forward(..., states=True) also returns the last layer's per-token states

    @property
    def directions(self) -> int:
        return self.num_directions

    def forward(self, x: Tensor, lengths: Tensor, states: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, final = self.rnn(packed)
        if self.pooling == "last" and not states:
            return self._last(final, x.size(0))
        padded, _ = pad_packed_sequence(outputs, batch_first=True, total_length=x.size(1))
        if self.pooling == "last":
            pooled = self._last(final, x.size(0))
        else:
            pooled = (masked_max if self.pooling == "max" else masked_mean)(padded, lengths)
        return (pooled, padded) if states else pooled

    def _last(self, final: Tensor | tuple[Tensor, Tensor], batch: int) -> Tensor:
        h_n = final[0] if isinstance(final, tuple) else final  # LSTM returns (h, c)
        last_layer = h_n.view(-1, self.num_directions, *h_n.shape[1:])[-1]
        return last_layer.transpose(0, 1).reshape(batch, self.output_dim)

    # ----------------------------------------------------------------------------------
    # Inference from frozen-input tables (sentinet.models.tables)

    def input_table(self, vectors: Tensor) -> Tensor:
        """[V, D] → [V, dirs · G · H]: the first layer's W_ih · e + b_ih, every gate and
        direction, the part of the layer that depends on a word alone."""
        return torch.cat([self._projection(vectors, 0, d) for d in range(self.num_directions)], 1)

    def forward_table(self, table: Tensor, ids: Tensor, lengths: Tensor) -> Tensor:
        """forward()'s tweet vectors read from ``input_table``'s rows for ``ids`` [B, T]
        (eval mode; equal within float rounding). The batch is sorted longest first for the
        time loop and put back in its order at the end; each direction's rows are gathered
        straight into time-major order, the backward one from each row's last real token."""
        lengths = lengths.to(ids.device)
        order = torch.argsort(lengths, descending=True, stable=True)
        lengths = lengths[order]
        steps = int(lengths[0]) if len(lengths) else 0
        ids = ids[order, :steps]
        dirs = self.num_directions
        per_direction = [ids] if dirs == 1 else [ids, ids.gather(1, reversed_index(lengths, steps))]
        index = torch.stack([i * dirs + d for d, i in enumerate(per_direction)]).permute(2, 0, 1)
        gi = F.embedding(index, table.view(len(table) * dirs, -1))  # [T, dirs, B, G·H]
        pooled = None
        for layer in range(self.rnn.num_layers):
            last = layer == self.rnn.num_layers - 1
            w = torch.stack([self._weight(f"weight_hh_l{layer}", d).T for d in range(dirs)])
            b = torch.stack([self._weight(f"bias_hh_l{layer}", d) for d in range(dirs)]).unsqueeze(1)
            pooled, states = run_layer(gi, lengths, self.cell, w, b, not last, self.pooling)
            if not last:  # the next layer reads both directions' states in time order
                gi = self._next_input(states, lengths, layer + 1)
        if self.pooling == "mean":
            pooled = pooled / lengths.clamp(min=1).to(pooled.dtype).view(1, -1, 1)
        out = pooled.transpose(0, 1).reshape(len(lengths), self.output_dim)
        return out[torch.argsort(order)]

    def _weight(self, name: str, direction: int) -> Tensor:
        return getattr(self.rnn, name + ("_reverse" if direction else ""))

    def _projection(self, x: Tensor, layer: int, direction: int) -> Tensor:
        weight, bias = self._weight(f"weight_ih_l{layer}", direction), self._weight(f"bias_ih_l{layer}", direction)
        return torch.addmm(bias, x.reshape(-1, x.size(-1)), weight.T).view(*x.shape[:-1], -1)

    def _next_input(self, states: Tensor, lengths: Tensor, layer: int) -> Tensor:
        """Layer ``layer``'s input projections [T, dirs, B, G·H] from the states [T, dirs,
        B, H] of the one below: both directions in time order make its input, and its own
        backward direction reads that from each row's last real token."""
        states = states.permute(2, 0, 1, 3)  # [B, T, dirs, H]
        if self.num_directions == 2:
            index = reversed_index(lengths, states.size(1))
            backward = states[:, :, 1].gather(1, index.unsqueeze(-1).expand(-1, -1, states.size(-1)))
            states = torch.stack([states[:, :, 0], backward], 2)
        x = states.reshape(*states.shape[:2], -1)
        gi = [self._projection(x, layer, d) for d in range(self.num_directions)]
        if self.num_directions == 2:
            index = reversed_index(lengths, x.size(1))
            gi[1] = gi[1].gather(1, index.unsqueeze(-1).expand(-1, -1, gi[1].size(-1)))
        return torch.stack(gi).permute(2, 0, 1, 3).contiguous()
