"""Training and decoding make every tensor on the model's device.

This machine has no accelerator, so the checks use the two devices a CPU build has:

- under ``with torch.device("meta")`` every factory call that does not name a device
  (``torch.zeros(n)``, ``torch.arange(n)``) makes a ``meta`` tensor; decoding and a training
  step of a CPU model, run that way and watched by :class:`Devices`, must see no tensor but CPU
  ones and give the same numbers as without;
- a model and a batch moved to ``meta`` must train a step (forward, backward, clipping) with
  every gradient on ``meta``: a CPU tensor met on the way would stop it;
- ``translate_ids`` and the trainer must hand the decoders and the model their inputs on the
  model's device.

What this cannot see: kernels and behaviour that exist only on CUDA, a tensor made on the CPU
on purpose (``device="cpu"``) in the decoding loops, and those loops on a non-CPU device
(``meta`` tensors have no values to stop on). The smoke test audits whole kata runs for
factory calls without a device (``tests/device_audit.py``); these tests run the pieces and
check their numbers too.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from deepkata.models.registry import build_model
from deepkata.nlp import decode
from deepkata.nlp import train as train_mod
from deepkata.nlp.batching import make_batch
from deepkata.nlp.decode import beam_search, greedy, translate_ids
from deepkata.nlp.train import Schedule, Trainer, batch_loss

SIZES = {
    "transformer": {"dim": 16, "heads": 2, "layers": 1, "ffn": 32},
    "gru": {"emb": 8, "hidden": 8},
    "gru-additive": {"emb": 8, "hidden": 8},
    "gru-dot": {"emb": 8, "hidden": 8},
}
META = torch.device("meta")


class Devices(TorchDispatchMode):
    """Every device that a tensor an operator took or made was on."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[torch.device] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.seen |= {t.device for t in tree_leaves((args, kwargs, out)) if isinstance(t, torch.Tensor)}
        return out


def tiny(name: str, dropout: float = 0.1) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(name, src_vocab=20, tgt_vocab=15, dropout=dropout, **SIZES[name])


BATCH = make_batch([[5, 6, 7], [8, 9, 10, 11, 12], [13]], [[4, 5], [6], [7, 8, 9]])


@pytest.mark.parametrize("name", SIZES)
def test_decoding_makes_no_tensor_off_the_models_device(name):
    model = tiny(name).eval()
    for search in (lambda: greedy(model, BATCH.src, BATCH.src_pad, 8), lambda: beam_search(model, BATCH.src, BATCH.src_pad, 8, beam=3)):
        expected = search()
        with torch.device("meta"), Devices() as devices:
            got = search()
        assert devices.seen == {torch.device("cpu")} and got == expected


@pytest.mark.parametrize("name", SIZES)
def test_a_training_step_makes_no_tensor_off_the_models_device(name):
    def step(model: torch.nn.Module) -> tuple[torch.Tensor, list[torch.Tensor]]:
        torch.manual_seed(1)  # the same dropout masks
        loss = batch_loss(model.train(), BATCH.to(next(model.parameters()).device), 0.1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        return loss, [p.grad for p in model.parameters()]

    expected_loss, expected_grads = step(tiny(name))
    model = tiny(name)
    with torch.device("meta"), Devices() as devices:
        loss, grads = step(model)
    assert devices.seen == {torch.device("cpu")}
    assert torch.equal(loss, expected_loss) and all(torch.equal(g, e) for g, e in zip(grads, expected_grads))
    loss, grads = step(tiny(name).to(META))
    assert loss.device == META and {g.device for g in grads} == {META}


def test_translate_ids_hands_the_decoders_sources_on_the_models_device(monkeypatch):
    seen = []

    def spy(model, src, src_pad, limit, *args):
        seen.append((src.device, src_pad.device))
        return [[] for _ in range(src.shape[0])]

    monkeypatch.setattr(decode, "greedy", spy)
    monkeypatch.setattr(decode, "beam_search", spy)
    model = tiny("gru").to(META)
    for method in ("greedy", "beam"):
        assert translate_ids(model, [[5, 6], [7]], method=method) == [[], []]
    assert seen == [(META, META)] * 2


def test_the_trainer_hands_the_model_its_batches_on_the_models_device(monkeypatch):
    seen = []

    def spy(model, batch, label_smoothing):
        seen.append({batch.src.device, batch.tgt_in.device, batch.tgt_out.device})
        raise StopIteration

    monkeypatch.setattr(train_mod, "batch_loss", spy)
    trainer = Trainer(tiny("transformer").to(META), Schedule(max_tokens=60), [[5, 6]] * 4, [[7]] * 4, seed=0)
    with pytest.raises(StopIteration):
        trainer.train_batch()
    assert seen == [{META}]


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_the_trainer_runs_the_forward_pass_in_its_precision(precision, dtype):
    model = tiny("transformer")
    seen = []
    # the step takes the output projection with the loss, not through forward(): a layer shows the dtype
    model.decoder[-1].linear2.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    Trainer(model, Schedule(max_tokens=60), [[5, 6]] * 4, [[7]] * 4, seed=0, precision=precision).train_batch()
    assert seen == [dtype] and all(p.dtype == torch.float32 for p in model.parameters())
