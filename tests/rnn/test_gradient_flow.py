from __future__ import annotations

import numpy as np
import pytest
import torch

from deepkata.rnn.adding import adding_batch
from deepkata.rnn.gradient_flow import hidden_gradient_norms
from deepkata.models.sequence import SequenceModel, SequenceModelConfig

CELLS = {"rnn": torch.nn.RNNCell, "gru": torch.nn.GRUCell, "lstm": torch.nn.LSTMCell}


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_norms_equal_autograd_through_an_unrolled_twin(cell):
    torch.manual_seed(0)
    model = SequenceModel(SequenceModelConfig(cell=cell, input_size=2, hidden=5, output_size=1, readout="last")).double()
    x, y = adding_batch(torch.Generator().manual_seed(0), 6, 12)
    x, y = x.double(), y.double()
    norms, loss = hidden_gradient_norms(model, x, y)

    twin = CELLS[cell](2, 5, dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(twin, name).copy_(getattr(model.rnn, f"{name}_l0"))
    h = torch.zeros(6, 5, dtype=torch.float64)
    c = torch.zeros(6, 5, dtype=torch.float64)
    hs = []
    for t in range(12):
        if cell == "lstm":
            h, c = twin(x[:, t], (h, c))
        else:
            h = twin(x[:, t], h)
        h.retain_grad()
        hs.append(h)
    ref_loss = torch.nn.functional.mse_loss(model.head(h), y)
    ref_loss.backward()
    expected = np.array([hh.grad.norm(dim=1).mean().item() for hh in hs])
    assert loss == pytest.approx(ref_loss.item(), rel=1e-12)
    np.testing.assert_allclose(norms, expected, rtol=1e-9)
    assert loss == pytest.approx(torch.nn.functional.mse_loss(model(x)[0], y).item(), rel=1e-12)


def test_the_simple_rnn_gradient_vanishes_going_back_in_time():
    torch.manual_seed(0)
    model = SequenceModel(SequenceModelConfig(cell="rnn", input_size=2, hidden=32, output_size=1, readout="last"))
    x, y = adding_batch(torch.Generator().manual_seed(0), 64, 100)
    norms, _ = hidden_gradient_norms(model, x, y)
    assert norms[0] < 1e-6 * norms[-1]


def test_refuses_models_it_cannot_read():
    model = SequenceModel(SequenceModelConfig(cell="gru", input_size=2, hidden=3, output_size=1, readout="all"))
    with pytest.raises(ValueError, match="one-layer, unidirectional, last-readout"):
        hidden_gradient_norms(model, torch.zeros(1, 4, 2), torch.zeros(1, 1))
