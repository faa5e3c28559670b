"""What the translation katas share: corpora, vocabularies, models by name, training with dev
evaluation and checkpoints, test scoring, and the saved translator.

Each architecture trains with its own recipe (learning rate, warmup, label smoothing) unless
the config says otherwise; the model kept is the one of the epoch with the best dev BLEU
(greedy), and the test set is decoded once, at the end, greedily and with beam search.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from torch import nn

from deepkata.core import checkpoint
from deepkata.core.data import locate
from deepkata.core.errors import UserError
from deepkata.nlp.bleu import Scores, score
from deepkata.nlp.corpus import SMALL_PARALLEL_ENJA, Corpus, Pair, read_corpus
from deepkata.nlp.decode import translate_ids
from deepkata.nlp.seq2seq import Seq2Seq, Seq2SeqConfig
from deepkata.nlp.toy import toy_corpus
from deepkata.nlp.train import Schedule, Trainer
from deepkata.nlp.transformer import Transformer, TransformerConfig
from deepkata.nlp.vocab import Vocab

ModelKind = Literal["transformer", "gru", "gru-additive", "gru-dot"]
CorpusName = Literal["toy", "small_parallel_enja"]
LABELS = {"transformer": "Transformer", "gru": "GRU", "gru-additive": "GRU + additive attention", "gru-dot": "GRU + dot attention"}

# each architecture's recipe: the Schedule fields it sets. The paper's 4,000 warmup steps are
# more than this corpus gives in 20 epochs (about 155 batches of 4,096 target tokens an epoch):
# the Transformer warms up over about two epochs, then decays as 1/sqrt(step).
RECIPES: dict[str, dict[str, float]] = {
    "transformer": {"lr": 1e-3, "warmup": 400, "label_smoothing": 0.1},
    "gru": {"lr": 1e-3, "warmup": 0, "label_smoothing": 0.0},
    "gru-additive": {"lr": 1e-3, "warmup": 0, "label_smoothing": 0.0},
    "gru-dot": {"lr": 1e-3, "warmup": 0, "label_smoothing": 0.0},
}
FORMAT = "deepkata-translator-1"


@dataclass(frozen=True)
class ModelSpec:
    kind: ModelKind = "transformer"
    dim: int = 256  # Transformer width; GRU embedding and hidden size
    heads: int = 4
    layers: int = 3
    ffn: int = 1024
    dropout: float = 0.1
    norm_first: bool = False
    tie_embeddings: bool = True


def build_model(spec: ModelSpec, src_vocab: int, tgt_vocab: int) -> nn.Module:
    if spec.kind == "transformer":
        return Transformer(
            TransformerConfig(src_vocab, tgt_vocab, spec.dim, spec.heads, spec.layers, spec.ffn, spec.dropout, spec.norm_first, spec.tie_embeddings)
        )
    attention = {"gru": "none", "gru-additive": "additive", "gru-dot": "dot"}[spec.kind]
    return Seq2Seq(Seq2SeqConfig(src_vocab, tgt_vocab, spec.dim, spec.dim, attention, spec.dropout))  # type: ignore[arg-type]


def schedule_for(kind: str, max_tokens: int, clip: float, **overrides: float | None) -> Schedule:
    """``kind``'s recipe with the ``overrides`` that are not None (lr, warmup, label_smoothing, ...)."""
    recipe = RECIPES[kind] | {k: v for k, v in overrides.items() if v is not None}
    return Schedule(**recipe, clip=clip, max_tokens=max_tokens)  # type: ignore[arg-type]


def load_corpus(name: CorpusName, data: Path | None, seed: int, toy_train: int) -> Corpus:
    if name == "toy":
        if data is not None:
            raise UserError("the toy corpus is generated; --data applies to corpus=small_parallel_enja")
        return toy_corpus(seed, train=toy_train)
    return read_corpus(locate(SMALL_PARALLEL_ENJA, data))


def build_vocabs(corpus: Corpus, min_freq: int) -> tuple[Vocab, Vocab]:
    return Vocab.build((s for s, _ in corpus.train), min_freq), Vocab.build((t for _, t in corpus.train), min_freq)


def evaluate(model: nn.Module, vocabs: tuple[Vocab, Vocab], pairs: list[Pair], method: Literal["greedy", "beam"], beam: int, alpha: float) -> tuple[Scores, list[list[str]]]:
    """Scores against the references as written, and the hypotheses' tokens."""
    src_vocab, tgt_vocab = vocabs
    ids = translate_ids(model, [src_vocab.encode(s) for s, _ in pairs], method=method, beam=beam, alpha=alpha)
    hyps = [tgt_vocab.decode(h) for h in ids]
    return score(hyps, [" ".join(t) for _, t in pairs]), hyps


def train(
    model: nn.Module,
    schedule: Schedule,
    corpus: Corpus,
    vocabs: tuple[Vocab, Vocab],
    *,
    epochs: int,
    seed: int,
    state: dict[str, Any],
    save: Callable[[], None],
    log: Callable[[int, dict[str, float]], None],
    due: Callable[[], bool],
    advance: Callable[[int], None],
) -> dict[str, Any]:
    """Train to ``epochs``, dev BLEU (greedy) after each, keeping the best epoch's weights.

    ``state`` is this model's part of the kata's checkpoint, updated in place: on resume it
    already holds the trainer and the history. ``save`` writes the whole checkpoint; it runs
    after every epoch and, mid-epoch, whenever ``due()``.
    """
    src_vocab, tgt_vocab = vocabs
    src = [src_vocab.encode(s) for s, _ in corpus.train]
    tgt = [tgt_vocab.encode(t) for _, t in corpus.train]
    trainer = Trainer(model, schedule, seed)
    if "trainer" in state:
        trainer.load_state_dict(state["trainer"])
    state.setdefault("history", [])
    state.setdefault("best", {"bleu": -1.0, "epoch": 0, "weights": None})
    advance(trainer.epoch)

    def on_batch(done: int, total: int) -> None:
        if due():
            state["trainer"] = trainer.state_dict()
            save()

    while trainer.epoch < epochs:
        result = trainer.train_epoch(src, tgt, on_batch)
        dev, _ = evaluate(model, vocabs, corpus.dev, "greedy", 1, 0.0)
        entry = {"epoch": trainer.epoch, "loss": result["loss"], "dev_bleu": dev.bleu, "dev_chrf": dev.chrf,
                 "seconds": result["seconds"], "tokens_per_s": result["tokens_per_s"]}  # fmt: skip
        state["history"].append(entry)
        if dev.bleu > state["best"]["bleu"]:
            state["best"] = {"bleu": dev.bleu, "epoch": trainer.epoch, "weights": {k: v.clone() for k, v in model.state_dict().items()}}
        log(trainer.epoch, {"train/loss": result["loss"], "dev/bleu": dev.bleu, "dev/chrf": dev.chrf})
        state["trainer"] = trainer.state_dict()
        save()
        advance(1)
    if state["best"]["weights"] is not None:
        model.load_state_dict(state["best"]["weights"])
    return state


def within_budget(history: list[dict[str, Any]], minutes: float) -> tuple[float, float | None]:
    """Training minutes in all (dev decoding excluded), and the dev BLEU of the last epoch that
    ended within ``minutes`` of training (None when the first epoch took longer)."""
    elapsed, bleu = 0.0, None
    for entry in history:
        elapsed += entry["seconds"]
        if elapsed <= minutes * 60:
            bleu = entry["dev_bleu"]
    return elapsed / 60, bleu


# --- the saved translator ----------------------------------------------------------------------


def save_translator(path: Path, spec: ModelSpec, model: nn.Module, vocabs: tuple[Vocab, Vocab], corpus: str) -> None:
    checkpoint.save(
        path,
        {"format": FORMAT, "spec": dataclasses.asdict(spec), "model": model.state_dict(),
         "src_vocab": list(vocabs[0].tokens), "tgt_vocab": list(vocabs[1].tokens), "corpus": corpus},  # fmt: skip
    )


def load_translator(path: Path) -> tuple[nn.Module, tuple[Vocab, Vocab], ModelSpec, str]:
    state = checkpoint.load(path)  # weights_only=True
    if state.get("format") != FORMAT:
        raise UserError(f"{path}: not a deepkata translator")
    spec = ModelSpec(**state["spec"])
    vocabs = (Vocab(tuple(state["src_vocab"])), Vocab(tuple(state["tgt_vocab"])))
    model = build_model(spec, len(vocabs[0]), len(vocabs[1]))
    model.load_state_dict(state["model"])
    model.eval()
    return model, vocabs, spec, state["corpus"]


def parameters(model: nn.Module) -> int:
    """Trainable parameters; ``Module.parameters`` yields a shared (tied) tensor once."""
    return sum(p.numel() for p in model.parameters())

