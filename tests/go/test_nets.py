"""AlphaGo's networks on small boards: shapes, the legal-move mask, the value's range, the registry."""

from __future__ import annotations

import pytest
import torch

from deepkata.go.board import GoState
from deepkata.go.features import PLANES, planes
from deepkata.go.nets import GoNetConfig, PolicyNet, ValueNet
from deepkata.models.registry import build_model


def _batch(size: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    state = GoState(size)
    for action in (6, 7, 12):
        state.play(action)
    x = torch.from_numpy(planes(state))[None].repeat(3, 1, 1, 1)
    legal = torch.zeros(3, size * size + 1, dtype=torch.bool)
    legal[:, state.legal_actions()] = True
    return x, legal


def test_the_policy_gives_a_logit_per_point_and_the_pass_and_masks_illegal_moves() -> None:
    torch.manual_seed(0)
    net = PolicyNet(GoNetConfig(size=5, filters=8, layers=3))
    x, legal = _batch()
    logits = net(x)
    assert logits.shape == (3, 26) and torch.isfinite(logits).all()
    masked = net(x, legal)
    assert torch.isinf(masked[~legal]).all() and torch.equal(masked[legal], logits[legal])
    p = masked.softmax(1)
    assert torch.allclose(p.sum(1), torch.ones(3)) and (p[~legal] == 0).all()
    assert not legal[0, 6] and legal[0, 25]  # an occupied point is illegal, the pass is legal


def test_the_value_is_one_number_in_minus_one_to_one_per_position() -> None:
    torch.manual_seed(0)
    net = ValueNet(GoNetConfig(size=5, filters=8, layers=3, hidden=16))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(40)  # large weights drive tanh to its limits, never past them
    v = net(_batch()[0])
    assert v.shape == (3,) and (v.abs() <= 1).all() and v.abs().max() > 0.5


def test_the_registry_builds_both_for_any_board_size() -> None:
    policy = build_model("go-policy", size=7, filters=4, layers=2)
    value = build_model("go-value", size=7, filters=4, layers=2, hidden=8)
    x = torch.zeros(2, PLANES, 7, 7)
    assert policy(x).shape == (2, 50) and value(x).shape == (2,)
    with pytest.raises(ValueError, match="odd"):
        PolicyNet(GoNetConfig(size=7, first_kernel=4))


def test_a_saved_network_loads_with_its_config_and_a_wrong_file_is_a_one_line_error(tmp_path) -> None:
    from deepkata.core.errors import UserError
    from deepkata.go.nets import load_network, save_network

    torch.manual_seed(1)
    net = PolicyNet(GoNetConfig(size=5, filters=4, layers=2)).eval()
    save_network(tmp_path / "policy.pt", net)
    loaded = load_network(tmp_path / "policy.pt", "policy")
    x = torch.randn(2, PLANES, 5, 5)
    torch.testing.assert_close(loaded(x), net(x), rtol=0, atol=0)
    with pytest.raises(UserError, match="not a saved value network"):
        load_network(tmp_path / "policy.pt", "value")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="junk.pt"):
        load_network(tmp_path / "junk.pt", "policy")
