"""Vanilla RNN (tanh), LSTM and GRU encoders over packed padded sequences.

The three share one module: they differ only in the torch cell class. Packing means the
recurrence never runs over padding, so a tweet's encoding is the same alone or in a batch.
"""

from __future__ import annotations


from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sentinet.config.encoders import RecurrentOptions
from sentinet.models.pooling import masked_max, masked_mean

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
