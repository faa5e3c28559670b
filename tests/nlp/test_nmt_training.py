"""The GRU seq2seq and the trainer: padding invariance, the schedule, resuming mid-epoch."""

from __future__ import annotations

import pytest
import torch

from deepkata.nlp.batching import make_batch
from deepkata.nlp.job import planned_epochs
from deepkata.nlp.katas.translate import within_budget
from deepkata.nlp.recipes import schedule_for
from deepkata.nlp.seq2seq import Seq2Seq, Seq2SeqConfig
from deepkata.nlp.train import Schedule, Trainer
from deepkata.nlp.transformer import Transformer, TransformerConfig


def tiny_transformer(dropout: float = 0.0) -> Transformer:
    return Transformer(TransformerConfig(src_vocab=20, tgt_vocab=15, dim=16, heads=2, layers=1, ffn=32, dropout=dropout))


@pytest.mark.parametrize("attention", ["none", "additive", "dot"])
def test_padding_changes_no_real_position(attention):
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(src_vocab=20, tgt_vocab=15, emb=8, hidden=8, dropout=0.0), attention=attention).eval()
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


def test_annealing_scales_the_rate_by_the_share_of_training_still_ahead():
    s = Schedule(lr=1e-3, warmup=100, anneal=True)
    assert s.lr_at(400, 3, 0.25) == pytest.approx(5e-4 * 0.25)
    assert s.lr_at(400, 3, 0.0) == 0.0
    assert Schedule(lr=1e-3, warmup=100).lr_at(400, 3, 0.25) == pytest.approx(5e-4)  # no anneal: ignored


def test_an_annealed_budget_plans_the_epochs_the_first_one_says_fit():
    assert planned_epochs(40, None, 300.0) == 40
    assert planned_epochs(40, 12, 300.0) == 2  # 12 minutes hold two 5-minute epochs, not a third
    assert planned_epochs(40, 15, 300.0) == 3
    assert planned_epochs(40, 4, 300.0) == 1  # at least the epoch already done
    assert planned_epochs(3, 600, 60.0) == 3  # never more than the epochs asked for


def test_the_trainer_anneals_linearly_to_zero_over_the_planned_epochs():
    torch.manual_seed(0)
    src, tgt = [[4 + (k % 9), 5] for k in range(40)], [[7, 4 + (k % 5)] for k in range(40)]
    trainer = Trainer(tiny_transformer(), Schedule(lr=1e-3, warmup=0, max_tokens=24, anneal=True), src, tgt, seed=0)
    trainer.planned = 2
    rates = []
    while trainer.epoch < 2:
        trainer.train_batch()
        rates.append(trainer.opt.param_groups[0]["lr"])
    n = len(trainer.epoch_batches())  # every epoch has as many batches here (equal lengths)
    assert len(rates) == 2 * n and n > 2
    assert rates == pytest.approx([1e-3 * (1 - k / (2 * n)) for k in range(2 * n)])  # the last step: 1/(2n) of the peak


def test_a_recipe_takes_only_the_overrides_given():
    s = schedule_for("gru-additive", 1024, 1.0, lr=None, warmup=None, decay=0.5, decay_after=6)
    assert (s.lr, s.warmup, s.label_smoothing, s.decay, s.decay_after, s.max_tokens) == (1e-3, 0, 0.0, 0.5, 6, 1024)
    t = schedule_for("transformer", 4096, 1.0, label_smoothing=0.2)
    assert (t.warmup, t.label_smoothing, t.decay) == (400, 0.2, 1.0)


def test_the_trainer_applies_the_epoch_decay():
    torch.manual_seed(0)
    src, tgt = [[4 + (k % 9), 5] for k in range(40)], [[7, 4 + (k % 5)] for k in range(40)]
    trainer = Trainer(tiny_transformer(), Schedule(lr=1e-3, warmup=0, decay=0.1, decay_after=1, max_tokens=60), src, tgt, seed=0)
    seen: list[tuple[int, float]] = []
    while trainer.epoch < 3:
        epoch = trainer.epoch + 1
        trainer.train_batch()
        seen.append((epoch, trainer.opt.param_groups[0]["lr"]))
    by_epoch = {e: sorted({lr for epoch, lr in seen if epoch == e}) for e in (1, 2, 3)}
    assert by_epoch == {1: [1e-3], 2: [pytest.approx(1e-4)], 3: [pytest.approx(1e-5)]}


def test_an_epoch_reports_its_mean_loss_per_target_token_after_its_last_batch():
    torch.manual_seed(0)
    src, tgt = [[4 + (k % 9), 5, 6] for k in range(50)], [[7, 4 + (k % 5), 8][: 1 + k % 3] for k in range(50)]
    trainer = Trainer(tiny_transformer(), Schedule(lr=1e-3, warmup=0, max_tokens=40), src, tgt, seed=1)
    batches = trainer.epoch_batches()
    assert sum(b.src.shape[0] for b in batches) == 50 and len(batches) > 2
    losses = []
    for k, batch in enumerate(batches):
        weights = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
        summary = trainer.train_batch()
        assert (summary is None) == (k < len(batches) - 1)
        # the loss of the step, recomputed from the weights it started from
        probe = tiny_transformer()
        probe.load_state_dict(weights, strict=False)
        logits = probe(batch.src, batch.src_pad, batch.tgt_in).reshape(-1, 15)
        total = torch.nn.functional.cross_entropy(logits, batch.tgt_out.reshape(-1), ignore_index=0, reduction="sum", label_smoothing=0.1)
        losses.append((total.item(), batch.target_tokens))
    assert trainer.epoch == 1 and trainer.batch_in_epoch == 0
    assert summary["loss"] == pytest.approx(sum(l for l, _ in losses) / sum(n for _, n in losses), rel=1e-5)


def test_an_epoch_interrupted_mid_way_resumes_to_the_same_weights():
    src = [[4 + (k % 9), 5, 6 + (k % 3)] for k in range(120)]
    tgt = [[7, 4 + (k % 5)] for k in range(120)]

    def fresh() -> Trainer:
        torch.manual_seed(0)
        return Trainer(tiny_transformer(dropout=0.2), Schedule(lr=1e-3, warmup=5, max_tokens=60, anneal=True), src, tgt, seed=3)

    whole = fresh()
    whole.planned = 3  # annealing over three epochs; the resumed trainer learns it from the state
    while whole.epoch < 2:
        whole.train_batch()

    cut = fresh()
    cut.planned = 3
    while (cut.epoch, cut.batch_in_epoch) != (1, 4):
        cut.train_batch()
    saved, rng = cut.state_dict(), torch.get_rng_state()  # what the engine checkpoints
    resumed = fresh()
    resumed.load_state_dict(saved)
    torch.set_rng_state(rng)
    while resumed.epoch < 2:
        resumed.train_batch()
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert resumed.step == whole.step and resumed.epoch == 2 and resumed.planned == 3


def test_the_hour_budget_counts_training_seconds_up_to_the_last_epoch_inside_it():
    history = [{"seconds": 1500.0, "dev_bleu": 10.0}, {"seconds": 2000.0, "dev_bleu": 20.0}, {"seconds": 200.0, "dev_bleu": 25.0}]
    assert within_budget(history, 60) == (pytest.approx(3700 / 60), 20.0)
    assert within_budget(history, 62) == (pytest.approx(3700 / 60), 25.0)
    assert within_budget(history, 20) == (pytest.approx(3700 / 60), None)
