"""Opt-in int8 inference (``predict/eval/serve --int8``): torch's dynamic quantisation of the
recurrent layers and the linear head.

Weights are stored as int8 and activations quantised on the fly, batch by batch, so no
calibration data is needed; the frozen embedding table, pooling and softmax stay float32.
Only modules that are called as modules can be swapped: ``nn.GRU``/``nn.LSTM`` and every
``nn.Linear``. The SRU reads its projection weights directly and the CNN's convolutions have
no dynamic int8 kernel, so those encoders keep float weights there (only the head is
quantised). The wide part of ``train.hybrid: wide`` is an EmbeddingBag, which is no
quantisable layer: its weights stay float32 (a lookup and a sum, nothing to gain from int8).
Probabilities move by up to ~1e-2, so labels can change: the closing note of issue 16
reports the dev F-macro change.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from sentinet.errors import SentinetError

QUANTISABLE = (nn.Linear, nn.GRU, nn.LSTM)


def quantise_int8(model: nn.Module, device: torch.device) -> list[str]:
    """Swap the model's quantisable layers for dynamic int8 ones, in place; returns their
    names. The model must be in eval mode on the CPU."""
    if device.type != "cpu":
        raise SentinetError(f"--int8 runs on the CPU (torch's dynamic int8 kernels); this run is on {device}: "
                            "add --device cpu")
    from sentinet.models.sru.encoder import SRULayer

    names = []
    for parent_name, parent in list(model.named_modules()):
        if isinstance(parent, SRULayer):
            continue  # its Linear is read as a weight matrix, never called
        for name, child in list(parent.named_children()):
            if type(child) in QUANTISABLE:
                setattr(parent, name, _dynamic(child))
                names.append(f"{parent_name}.{name}".lstrip("."))
    return names


def _dynamic(module: nn.Module) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notes: the API still works
        wrapper = nn.Sequential(module)
        return torch.ao.quantization.quantize_dynamic(wrapper, {type(module)}, dtype=torch.qint8)[0]
