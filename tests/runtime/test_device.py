"""sentinet.runtime.device: which torch device a run uses (CPU only: CUDA's presence and GPU
count are stubbed, so the checks read the same on a machine with a GPU)."""

from __future__ import annotations

import pytest
import torch

from sentinet.errors import SentinetError
from sentinet.runtime.device import resolve_device


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


@pytest.fixture
def one_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


def test_cpu_is_the_cpu():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("cpu:0") == torch.device("cpu", 0)


def test_auto_is_the_cpu_without_cuda(no_cuda):
    assert resolve_device("auto") == torch.device("cpu")


def test_auto_is_cuda_when_there_is_one(one_gpu):
    assert resolve_device("auto") == torch.device("cuda")  # constructing a device allocates nothing


def test_cuda_without_cuda_is_one_line(no_cuda):
    for spec in ("cuda", "cuda:0", "cuda:3"):
        with pytest.raises(SentinetError) as caught:
            resolve_device(spec)
        assert str(caught.value) == f"train.device: {spec!r} requested but CUDA is not available"


def test_a_gpu_index_past_the_count_is_one_line(one_gpu):
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(SentinetError) as caught:
        resolve_device("cuda:1")
    assert str(caught.value) == "train.device: 'cuda:1': only 1 GPU(s)"


@pytest.mark.parametrize("spec", ["tpu", "", "CPU", " cpu", "cuda:x", "gpu", "cpu:-1"])
def test_what_is_no_device_is_one_line(spec):
    with pytest.raises(SentinetError) as caught:
        resolve_device(spec)
    assert str(caught.value) == f"train.device: {spec!r} is not a device (auto, cpu, cuda, cuda:N)"


@pytest.mark.parametrize("spec", ["meta", "mps", "xpu"])
def test_devices_torch_knows_but_sentinet_does_not_run_on_are_refused(spec):
    with pytest.raises(SentinetError) as caught:
        resolve_device(spec)
    assert str(caught.value) == f"train.device: {spec!r} is not supported (auto, cpu, cuda, cuda:N)"
