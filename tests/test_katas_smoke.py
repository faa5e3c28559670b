"""Every registered kata's smoke preset runs, shows what it promises, and makes no tensor on an
implicit device (see :mod:`tests.device_audit`): the check that it would keep every tensor on a
GPU's device that this CPU-only machine allows."""

from __future__ import annotations

import json
import math

import pytest

from deepkata.core import runner
from deepkata.core.registry import all_katas
from tests.device_audit import ImplicitDeviceAudit


@pytest.mark.parametrize("kata", all_katas(), ids=lambda k: k.name)
def test_smoke_preset(kata, tmp_path):
    with ImplicitDeviceAudit() as audit:
        res = runner.execute(kata, kata.preset_config("smoke"), preset="smoke", seed=0, root=tmp_path, quiet=True, device="cpu")
    assert audit.found == [], "tensors made without a device (on the default device, not the model's)"
    result = json.loads((res.dir / "result.json").read_text())
    assert result["status"] == "completed", result["error"]
    assert result["metrics"]
    for value in result["metrics"].values():
        assert value is None or math.isfinite(value)
    assert result["expectations"], "a smoke preset must check something"
    assert all(e["met"] for e in result["expectations"]), result["expectations"]
    assert result["figures"]
    for name in result["figures"]:
        assert (res.dir / name).read_bytes()[:4] == b"\x89PNG"
    assert "## Summary" in (res.dir / "report.md").read_text()
