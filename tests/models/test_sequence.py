from __future__ import annotations

import pytest
import torch
from torch import nn

from deepkata.models.sequence import SequenceModel, SequenceModelConfig, UnrolledRNN


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("readout", ["all", "last"])
def test_output_shapes(cell, bidirectional, readout):
    cfg = SequenceModelConfig(cell=cell, input_size=3, hidden=5, layers=2, bidirectional=bidirectional, output_size=2, readout=readout)
    model = SequenceModel(cfg)
    out, state = model(torch.randn(4, 7, 3))
    assert out.shape == ((4, 7, 2) if readout == "all" else (4, 2))
    h = state[0] if cell == "lstm" else state
    assert h.shape == (2 * (2 if bidirectional else 1), 4, 5)
    headless, _ = SequenceModel(SequenceModelConfig(cell=cell, input_size=3, hidden=5, bidirectional=bidirectional))(torch.randn(4, 7, 3))
    assert headless.shape == (4, 7, 5 * (2 if bidirectional else 1))


def test_last_readout_is_the_final_state_of_each_direction():
    torch.manual_seed(0)
    model = SequenceModel(SequenceModelConfig(cell="gru", input_size=3, hidden=4, layers=2, bidirectional=True, readout="last"))
    out, h_n = model(torch.randn(2, 6, 3))
    torch.testing.assert_close(out, torch.cat([h_n[-2], h_n[-1]], dim=1))


def test_the_model_is_the_torch_module_plus_a_head():
    torch.manual_seed(0)
    model = SequenceModel(SequenceModelConfig(cell="lstm", input_size=3, hidden=4, output_size=1, readout="all"))
    x = torch.randn(2, 5, 3)
    y, _ = model.rnn(x)
    torch.testing.assert_close(model(x)[0], model.head(y))
    assert isinstance(model.rnn, nn.LSTM) and model.rnn.batch_first


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_unrolled_rnn_equals_nn_rnn(nonlinearity):
    torch.manual_seed(1)
    ref = nn.RNN(3, 4, num_layers=2, nonlinearity=nonlinearity, batch_first=True, dtype=torch.float64)
    ours = UnrolledRNN(3, 4, 2, nonlinearity, bias=True, dropout=0.0).double()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    h0 = torch.randn(2, 3, 4, dtype=torch.float64)
    (y1, h1), (y2, h2) = ref(x, h0), ours(x, h0)
    torch.testing.assert_close(y1, y2, rtol=0, atol=1e-12)
    torch.testing.assert_close(h1, h2, rtol=0, atol=1e-12)


def test_sigmoid_rnn_runs_the_unrolled_loop():
    model = SequenceModel(SequenceModelConfig(cell="rnn", input_size=2, hidden=3, nonlinearity="sigmoid"))
    assert isinstance(model.rnn, UnrolledRNN)
    y, _ = model(torch.randn(1, 4, 2))
    assert ((y > 0) & (y < 1)).all()


class Capture(nn.Module):
    def forward(self, x, state=None):
        self.seen = x
        return x, None


def test_input_dropout_uses_one_mask_per_sequence_and_only_in_training():
    torch.manual_seed(0)
    model = SequenceModel(SequenceModelConfig(cell="rnn", input_size=50, hidden=2, input_dropout=0.5))
    model.rnn = Capture()
    x = torch.ones(3, 8, 50)
    model.train()
    model(x)
    seen = model.rnn.seen
    assert set(seen.unique().tolist()) == {0.0, 2.0}  # inverted dropout: kept inputs scaled by 1/keep
    assert (seen == seen[:, :1]).all()  # the same features dropped at every step
    assert not (seen[0] == seen[1]).all()  # but not for every sequence
    model.eval()
    model(x)
    assert torch.equal(model.rnn.seen, x)


def test_keras_initialization():
    model = SequenceModel(SequenceModelConfig(cell="lstm", input_size=3, hidden=4, output_size=1, init="keras"))
    w_hh = model.rnn.weight_hh_l0.detach()
    torch.testing.assert_close(w_hh.T @ w_hh, torch.eye(4), rtol=0, atol=1e-5)
    b = model.rnn.bias_ih_l0.detach()
    assert (b[4:8] == 1).all() and (b[:4] == 0).all() and (b[8:] == 0).all()
    assert (model.rnn.bias_hh_l0 == 0).all() and (model.head.bias == 0).all()
    bound = (6 / (3 + 16)) ** 0.5
    assert model.rnn.weight_ih_l0.abs().max() <= bound


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hidden": 0}, "hidden must be >= 1"),
        ({"dropout": 1.0}, "dropout must be >= 0, < 1"),
        ({"cell": "lstm", "nonlinearity": "relu"}, "rnn cell only"),
        ({"cell": "rnn", "nonlinearity": "sigmoid", "bidirectional": True}, "unidirectional"),
        ({"output_size": 0}, "output_size must be >= 1"),
    ],
)
def test_bad_configs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SequenceModelConfig(**kwargs)
