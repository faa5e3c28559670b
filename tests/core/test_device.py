"""Device names and precision: what --device and --precision accept, and what they do."""

from __future__ import annotations

import pytest
import torch

from deepkata.core import device
from deepkata.core.errors import UserError


def test_auto_and_cpu_resolve_to_the_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.resolve("auto") == torch.device("cpu")
    assert device.resolve(" CPU ") == torch.device("cpu")
    with pytest.raises(UserError, match="--device cuda:1: this machine has no CUDA device"):
        device.resolve("cuda:1")


def test_cuda_gets_an_index_and_a_missing_one_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert device.resolve("auto") == torch.device("cuda", 1)  # under torchrun: the rank's own GPU
    assert device.resolve("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(UserError, match="cuda:2 does not exist; this machine has 2 CUDA device"):
        device.resolve("cuda:2")


@pytest.mark.parametrize("spec", ["gpu", "cuda:", "cuda:x", "mps", ""])
def test_other_names_are_refused(spec):
    with pytest.raises(UserError, match="expected auto, cpu, cuda or cuda:N"):
        device.resolve(spec)


def test_bf16_autocast_computes_matrix_products_in_bfloat16_and_fp32_does_nothing():
    a, b = torch.randn(4, 8, device="cpu"), torch.randn(8, 3, device="cpu")
    with device.autocast(torch.device("cpu"), "bf16"):
        assert (a @ b).dtype == torch.bfloat16
    with device.autocast(torch.device("cpu"), "fp32"):
        assert torch.equal(a @ b, a @ b) and (a @ b).dtype == torch.float32
    with pytest.raises(UserError, match="expected one of fp32, bf16"):
        device.check_precision("fp16", torch.device("cpu"))


def test_move_sends_every_tensor_of_a_nest():
    nest = {"x": torch.ones(2, device="cpu"), "ys": [torch.zeros(1, device="cpu"), 3], "t": (torch.ones(1, device="cpu"),)}
    moved = device.move(nest, torch.device("meta"))
    assert moved["ys"][1] == 3 and isinstance(moved["t"], tuple)
    assert all(t.device.type == "meta" for t in (moved["x"], moved["ys"][0], moved["t"][0]))
