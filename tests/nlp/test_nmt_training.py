"""The GRU seq2seq and the trainer: padding invariance, the schedule, resuming mid-epoch."""

from __future__ import annotations

import pytest
import torch

from deepkata.nlp.batching import make_batch
from deepkata.nlp.experiment import schedule_for, within_budget
from deepkata.nlp.seq2seq import Seq2Seq, Seq2SeqConfig
from deepkata.nlp.train import Schedule, Trainer
from deepkata.nlp.transformer import Transformer, TransformerConfig


@pytest.mark.parametrize("attention", ["none", "additive", "dot"])
def test_padding_changes_no_real_position(attention):
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(20, 15, emb=8, hidden=8, attention=attention, dropout=0.0)).eval()
    short = make_batch([[5, 6, 7]], [[4, 5]])
    padded = make_batch([[5, 6, 7], [8, 9, 10, 11, 12]], [[4, 5], [6]])
    a = model(short.src, short.src_pad, short.tgt_in)
    b = model(padded.src, padded.src_pad, padded.tgt_in)[:1, : a.shape[1]]
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_the_schedule_warms_up_then_decays_as_one_over_sqrt_step():
    s = Schedule(lr=1e-3, warmup=100)
    assert s.lr_at(1) == pytest.approx(1e-5)
    assert s.lr_at(100) == pytest.approx(1e-3)
    assert s.lr_at(400) == pytest.approx(5e-4)
    assert Schedule(lr=2e-3, warmup=0).lr_at(7) == 2e-3


def test_the_learning_rate_decays_per_epoch_after_decay_after():
    s = Schedule(lr=1e-3, warmup=0, decay=0.5, decay_after=6)
    assert [s.lr_at(100, epoch) for epoch in (1, 6, 7, 8, 10)] == pytest.approx([1e-3, 1e-3, 5e-4, 2.5e-4, 6.25e-5])
    w = Schedule(lr=1e-3, warmup=100, decay=0.5, decay_after=1)
    assert w.lr_at(400, 3) == pytest.approx(5e-4 / 4)
    assert Schedule(lr=1e-3, warmup=100).lr_at(400, 9) == Schedule(lr=1e-3, warmup=100).lr_at(400)  # no decay by default


def test_a_recipe_takes_only_the_overrides_given():
    s = schedule_for("gru-additive", 1024, 1.0, lr=None, warmup=None, decay=0.5, decay_after=6)
    assert (s.lr, s.warmup, s.label_smoothing, s.decay, s.decay_after, s.max_tokens) == (1e-3, 0, 0.0, 0.5, 6, 1024)
    t = schedule_for("transformer", 4096, 1.0, label_smoothing=0.2)
    assert (t.warmup, t.label_smoothing, t.decay) == (400, 0.2, 1.0)


def test_the_trainer_applies_the_epoch_decay():
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(20, 15, dim=16, heads=2, layers=1, ffn=32, dropout=0.0))
    trainer = Trainer(model, Schedule(lr=1e-3, warmup=0, decay=0.1, decay_after=1, max_tokens=60), seed=0)
    src, tgt = [[4 + (k % 9), 5] for k in range(40)], [[7, 4 + (k % 5)] for k in range(40)]
    seen: list[tuple[int, float]] = []
    for _ in range(3):
        trainer.train_epoch(src, tgt, lambda done, total: seen.append((trainer.epoch + 1, trainer.opt.param_groups[0]["lr"])))
    by_epoch = {e: sorted({lr for epoch, lr in seen if epoch == e}) for e in (1, 2, 3)}
    assert by_epoch == {1: [1e-3], 2: [pytest.approx(1e-4)], 3: [pytest.approx(1e-5)]}


def test_an_epoch_interrupted_mid_way_resumes_to_the_same_weights():
    src = [[4 + (k % 9), 5, 6 + (k % 3)] for k in range(120)]
    tgt = [[7, 4 + (k % 5)] for k in range(120)]

    def fresh() -> Trainer:
        torch.manual_seed(0)
        model = Transformer(TransformerConfig(20, 15, dim=16, heads=2, layers=1, ffn=32, dropout=0.2))
        return Trainer(model, Schedule(lr=1e-3, warmup=5, max_tokens=60), seed=3)

    whole = fresh()
    whole.train_epoch(src, tgt)
    whole.train_epoch(src, tgt)

    class Stop(Exception):
        pass

    cut = fresh()
    saved = {}

    def stop_after_four(done: int, total: int) -> None:
        if cut.epoch == 1 and done == 4:
            saved.update(cut.state_dict())
            raise Stop

    cut.train_epoch(src, tgt)
    with pytest.raises(Stop):
        cut.train_epoch(src, tgt, stop_after_four)
    resumed = fresh()
    resumed.load_state_dict(saved)
    resumed.train_epoch(src, tgt)
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert resumed.step == whole.step and resumed.epoch == 2


def test_the_hour_budget_counts_training_seconds_up_to_the_last_epoch_inside_it():
    history = [{"seconds": 1500.0, "dev_bleu": 10.0}, {"seconds": 2000.0, "dev_bleu": 20.0}, {"seconds": 200.0, "dev_bleu": 25.0}]
    assert within_budget(history, 60) == (pytest.approx(3700 / 60), 20.0)
    assert within_budget(history, 62) == (pytest.approx(3700 / 60), 25.0)
    assert within_budget(history, 20) == (pytest.approx(3700 / 60), None)
