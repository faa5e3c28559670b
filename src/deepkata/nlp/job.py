"""One translation model trained on the engine (:mod:`deepkata.core.engine`): the translate katas' job.

A step is one batch (:meth:`~deepkata.nlp.train.Trainer.train_batch`), so the engine may
checkpoint in the middle of an epoch. After each epoch the dev set is decoded greedily and the
weights of the best epoch so far (by dev BLEU) are kept. With a budget (``Plan.minutes``) the job
ends after the last epoch that leaves room for another as long within it. A schedule that
anneals plans its epochs (:func:`planned_epochs`): all of them, or under a budget those that
the first epoch's time says fit, and ends with the last of them. With ``Plan.average`` k > 1 the last k
epochs' weights are kept too, and at the end their average (Vaswani et al. averaged the last
checkpoints) replaces the best epoch's when it scores better on dev. Once the last epoch is done,
:meth:`TranslationJob.result` puts the best weights back and decodes dev, and test unless the
plan says not to, greedily and with beam search; it returns the scores, the history of the
epochs, the best epoch and its weights (for the saved translator and the report's examples).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from deepkata.core import config as config_mod
from deepkata.core.config import Config
from deepkata.core.device import move
from deepkata.core.engine import JobContext
from deepkata.models.registry import build_model, count_parameters
from deepkata.nlp.bleu import DETOKENIZED
from deepkata.nlp.corpus import Corpus
from deepkata.nlp.scoring import evaluate
from deepkata.nlp.train import Schedule, Trainer
from deepkata.nlp.vocab import Vocab


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What one job trains and how it is scored."""

    name: str  # the model's registry name
    model: Config  # its config, vocabulary sizes filled in
    schedule: Schedule
    epochs: int
    beam: int  # beam size of the final decoding
    alpha: float  # length penalty exponent of beam search
    test: bool  # decode the test split at the end
    average: int = 1  # >1: also try the average of the last this many epochs' weights on dev
    minutes: float | None = None  # a training-time budget: no epoch starts that would end past it


def planned_epochs(epochs: int, minutes: float | None, first_epoch_seconds: float) -> int:
    """The epochs an annealed schedule spans: ``epochs``, or fewer when a budget of ``minutes``
    holds only so many epochs as long as the first (at least one)."""
    if minutes is None:
        return epochs
    return max(1, min(epochs, math.floor(minutes * 60 / max(first_epoch_seconds, 1e-9))))


class TranslationJob:
    """The model of ``plan`` trained on ``corpus`` on the run's device; see the module docstring."""

    def __init__(self, plan: Plan, corpus: Corpus, vocabs: tuple[Vocab, Vocab], ctx: JobContext) -> None:
        self.plan, self.corpus, self.vocabs, self.ctx = plan, corpus, vocabs, ctx
        self.model = build_model(plan.name, **config_mod.to_dict(plan.model)).to(ctx.device)
        src_vocab, tgt_vocab = vocabs
        src = [src_vocab.encode(s) for s, _ in corpus.train]
        tgt = [tgt_vocab.encode(t) for _, t in corpus.train]
        self.trainer = Trainer(self.model, plan.schedule, src, tgt, seed=ctx.seed, precision=ctx.precision)
        self.history: list[dict[str, float]] = []  # per epoch: loss, dev BLEU and chrF (greedy), time
        self.best: dict[str, Any] | None = None  # the best dev epoch so far: bleu, epoch, weights
        self.recent: list[dict[str, Any]] = []  # the last plan.average epochs' weights, when averaging
        self.device = ctx.device
        self.total = plan.epochs
        if plan.schedule.anneal and plan.minutes is None:
            self.trainer.planned = plan.epochs  # under a budget: known after the first epoch

    @property
    def progress(self) -> float:
        if self.done:
            return self.plan.epochs
        return self.trainer.epoch + self.trainer.batch_in_epoch / len(self.trainer.epoch_batches())

    @property
    def done(self) -> bool:
        planned = self.trainer.planned
        return self.trainer.epoch >= self.plan.epochs or (planned is not None and self.trainer.epoch >= planned) or self.out_of_time

    @property
    def out_of_time(self) -> bool:
        """With a budget of ``plan.minutes``: whether another epoch, as long as the last one,
        would end past it (training time only, dev decoding excluded)."""
        if self.plan.minutes is None or not self.history or self.trainer.batch_in_epoch:
            return False
        spent = sum(e["seconds"] for e in self.history)
        return spent + self.history[-1]["seconds"] > self.plan.minutes * 60

    def step(self) -> None:
        summary = self.trainer.train_batch()
        if summary is not None:
            self._end_epoch(summary)

    def _end_epoch(self, summary: dict[str, float]) -> None:
        """Score dev greedily, keep the weights if they are the best so far, log."""
        with self.ctx.autocast():
            dev, _ = evaluate(self.model, self.vocabs, self.corpus.dev, "greedy", 1, 0.0)
        epoch = self.trainer.epoch
        if self.plan.schedule.anneal and self.trainer.planned is None:
            self.trainer.planned = planned_epochs(self.plan.epochs, self.plan.minutes, summary["seconds"])
        self.history.append({"epoch": epoch, "loss": summary["loss"], "dev_bleu": dev.bleu, "dev_chrf": dev.chrf,
                             "seconds": summary["seconds"], "tokens_per_s": summary["tokens_per_s"]})  # fmt: skip
        if self.best is None or dev.bleu > self.best["bleu"]:
            self.best = {"bleu": dev.bleu, "epoch": epoch, "weights": {k: v.clone() for k, v in self.model.state_dict().items()}}
        if self.plan.average > 1:
            self.recent = [*self.recent, {k: v.clone() for k, v in self.model.state_dict().items()}][-self.plan.average :]
        self.ctx.log(epoch, {"train/loss": summary["loss"], "train/seconds": summary["seconds"], "dev/bleu": dev.bleu, "dev/chrf": dev.chrf})

    def state_dict(self) -> dict[str, Any]:
        return {"trainer": self.trainer.state_dict(), "history": list(self.history), "best": self.best, "recent": list(self.recent)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trainer.load_state_dict(state["trainer"])
        self.history = list(state["history"])
        self.best = move(state["best"], self.device)
        self.recent = [move(w, self.device) for w in state.get("recent", [])]  # absent from checkpoints before averaging

    def _average(self) -> dict[str, Any] | None:
        """Score the average of the last epochs' weights on dev (greedy); when it beats the best
        single epoch, it becomes the best (its epoch: the last one averaged)."""
        if len(self.recent) < 2 or self.best is None:
            return None
        keys = self.recent[0].keys()
        mean = {k: sum(w[k] for w in self.recent) / len(self.recent) if self.recent[0][k].is_floating_point() else self.recent[-1][k] for k in keys}
        self.model.load_state_dict(mean)
        with self.ctx.autocast():
            dev, _ = evaluate(self.model, self.vocabs, self.corpus.dev, "greedy", 1, 0.0)
        epochs = [e["epoch"] for e in self.history[-len(self.recent) :]]
        kept = dev.bleu > self.best["bleu"]
        if kept:
            self.best = {"bleu": dev.bleu, "epoch": epochs[-1], "weights": mean}
        return {"epochs": epochs, "dev_bleu_greedy": dev.bleu, "kept": kept}

    def result(self) -> dict[str, Any]:
        """Dev (and test) BLEU and chrF, greedy and beam, of the best epoch's weights; see the module docstring."""
        assert self.best is not None, "a finished job has trained at least one epoch"
        plan = self.plan
        averaged = self._average()
        self.model.load_state_dict(self.best["weights"])
        scores: dict[str, float] = {}
        with self.ctx.autocast():
            for split in ("dev", "test") if plan.test else ("dev",):
                for method in ("greedy", "beam"):
                    s, _ = evaluate(self.model, self.vocabs, getattr(self.corpus, split), method, plan.beam, plan.alpha, self.corpus.tgt_lang)
                    scores[f"{split}/bleu_{method}"], scores[f"{split}/chrf_{method}"] = s.bleu, s.chrf
                    scores[f"{split}/unk_{method}"] = s.unk
                    if s.bleu_detok is not None:
                        scores[f"{split}/bleu_{DETOKENIZED[self.corpus.tgt_lang]}_{method}"] = s.bleu_detok
        signatures = {"bleu": s.bleu_signature, "chrf": s.chrf_signature} | ({"bleu_detok": s.bleu_detok_signature} if s.bleu_detok_signature else {})
        return {
            "scores": scores,  # {"dev/bleu_greedy": ..., "test/chrf_beam": ..., "test/bleu_ja-mecab_beam": ..., "test/unk_beam": ...}
            "signatures": signatures,  # sacreBLEU's, the same for every split
            "history": self.history,
            "best_epoch": self.best["epoch"],
            "averaged": averaged,  # the average of the last epochs: its dev BLEU and whether it was kept, or None
            "weights": self.best["weights"],
            "parameters": count_parameters(self.model),
        }
