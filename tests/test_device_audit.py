"""The implicit-device audit finds the factory calls that ignore the model's device."""

from __future__ import annotations

import torch

from tests.device_audit import ImplicitDeviceAudit


def make_buffers(x: torch.Tensor) -> list[torch.Tensor]:
    return [
        torch.zeros(3),  # on the default device
        torch.full((2,), 1.0, device=x.device),
        x.new_zeros(2),
        torch.zeros_like(x),
        torch.arange(4),  # there too
        torch.tensor([1.0], device="cpu"),  # a CPU tensor on purpose
        torch.nn.Linear(2, 2).weight,  # PyTorch's own factory calls are not ours
    ]


def test_the_audit_reports_factories_without_a_device_with_their_line():
    with ImplicitDeviceAudit(roots=(__file__,)) as audit:
        make_buffers(torch.ones(2, device="cpu"))
    assert audit.found == [("zeros", f"{__file__}:12"), ("arange", f"{__file__}:16")]
