"""Kata ``word-vectors``: count-based vectors against CBOW and skip-gram, on one corpus, one table.

The notes (Day 3, 001 and 004) teach word embeddings, count-based and by word2vec. Every model
learns ``dim``-dimensional vectors of the same vocabulary (the training split's words seen
``min_count`` times):

- **count**: co-occurrence within ``train.window`` words, PPMI with context-distribution
  smoothing, truncated SVD (:mod:`deepkata.words.counts`);
- **cbow**, **skip-gram**: word2vec with negative sampling (:mod:`deepkata.words.word2vec`), on
  PyTorch (its fused step; ``backend=autograd``: forward and autograd's backward) or, with
  ``backend=numpy``, the from-scratch NumPy version;
- **masked**: the input embeddings of a small Transformer encoder trained to fill in masked
  words (:mod:`deepkata.words.masked`);
- **random vectors**, the baseline every model has to beat.

Each is scored on word similarity (Spearman ρ on WordSim-353) and analogies (3CosAdd accuracy
on Google's questions, semantic and syntactic, with the share of questions the vocabulary can
answer), as gensim scores them (:mod:`deepkata.words.evaluate`). The report lists each model's
nearest neighbours of a few words and draws the word pairs of an analogy section along their
mean offset (parallel arrows are what 3CosAdd needs); the vectors are
saved as ``vectors.npz`` for ``deepkata words --run RUN``.

Corpora: ``auto`` reads the text of ``--data DIR`` (PTB or WikiText-2), else
``$DEEPKATA_DATA/ptb`` when it exists, else a generated corpus with known meanings
(:mod:`deepkata.words.generated`) that carries its own evaluation sets. The real evaluation
sets are read from ``$DEEPKATA_DATA/word_eval`` (or ``word_eval`` beside the corpus's folder).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from deepkata.core import records
from deepkata.core.config import ConfigError, KataConfig, param, require_distinct
from deepkata.core.engine import JobContext, JobSpec
from deepkata.core.errors import UserError
from deepkata.core.plots import figure
from deepkata.core.registry import Expectation, Outcome, register_kata
from deepkata.core.runner import Run
from deepkata.core.trainer import TrainerJob
from deepkata.datasets.corpora import detect_corpus, read_corpus_split
from deepkata.words.counts import cooccurrence, ppmi, svd_vectors
from deepkata.words.evaluate import (
    Analogies,
    WordPairs,
    analogy_accuracy,
    nearest,
    read_analogies,
    read_word_pairs,
    similarity_spearman,
)
from deepkata.words.generated import make_corpus
from deepkata.words.masked import MaskedRecipe, MaskedWordConfig, MaskedWordModel, MaskedWordTrainer
from deepkata.words.vocab import WordVocab
from deepkata.words.word2vec import (
    Word2Vec,
    Word2VecConfig,
    Word2VecRecipe,
    Word2VecTrainer,
)

MODELS = ("count", "cbow", "skip-gram", "masked")
LABELS = {"count": "count (PPMI + SVD)", "cbow": "CBOW", "skip-gram": "skip-gram", "masked": "masked-word Transformer", "random": "random vectors (baseline)"}
COMMON_WORDS = ("king", "woman", "money", "japan", "president", "good", "week", "car", "paris", "dog")
Corpus = Literal["auto", "generated", "ptb", "wikitext-2"]


@dataclass(frozen=True, kw_only=True)
class WordVectorsConfig(KataConfig):
    corpus: Corpus = param("auto", "text: auto (--data's corpus, else $DEEPKATA_DATA/ptb, else generated), generated, ptb or wikitext-2")
    generated_words: int = param(300_000, "tokens of the generated corpus", gt=0)
    models: tuple[str, ...] = param(MODELS, "vectors to learn: count, cbow, skip-gram, masked")
    dim: int = param(100, "vector dimensions of every model", ge=2, le=2048)
    min_count: int = param(5, "words seen fewer times are left out (gensim's default)", ge=1)
    train: Word2VecRecipe = param(Word2VecRecipe(), "word2vec's training (window shared with the counts)")
    masked: MaskedRecipe = param(MaskedRecipe(), "the masked-word model's training")
    masked_net: MaskedWordConfig = param(MaskedWordConfig(), "the masked-word Transformer (vocab and dim set by the kata)")
    backend: Literal["torch", "autograd", "numpy"] = param("torch", "word2vec on PyTorch (the fused step, or forward + autograd's backward) or the NumPy from-scratch version")
    cds: float = param(0.75, "context-distribution smoothing α of PPMI (1: none)", gt=0, le=1)
    svd_power: float = param(0.5, "count vectors U Σ^p: the power p of the singular values", ge=0, le=1)
    words: tuple[str, ...] = param(("auto",), "words whose nearest neighbours the report lists (auto: everyday words the corpus has, else from the analogies)")
    neighbours: int = param(8, "neighbours listed per word", ge=1, le=50)

    def validate(self) -> None:
        if not self.models:
            raise ConfigError("models: name at least one of count, cbow, skip-gram, masked")
        require_distinct("models", self.models)
        for m in self.models:
            if m not in MODELS:
                raise ConfigError(f"models: unknown model {m!r} (valid: {', '.join(MODELS)})")


@register_kata(
    name="word-vectors",
    topic="words",
    section="Day 3 · word embeddings, word2vec: CBOW and skip-gram (notes 001, 004)",
    description="Count-based (PPMI + SVD), CBOW, skip-gram and masked-word Transformer vectors on one corpus: WordSim-353 ρ and analogy accuracy against random vectors; neighbours, analogy map",
    config=WordVectorsConfig,
    presets={
        "smoke": {"corpus": "generated", "generated_words": 20_000, "dim": 16, "train.epochs": 1, "train.block": 200, "neighbours": 3, "masked.epochs": 1},
        "default": {},
        "full": {"corpus": "wikitext-2"},
    },  # fmt: skip
    expectations=[
        Expectation("training stays finite (no divergence)", "words/diverged", "<=", 0),
        Expectation("every model's vectors beat random ones on word similarity (higher ρ)", "words/min_rho_gain", ">=", 0.0, presets=("default", "full")),
        Expectation("skip-gram answers more analogies than random vectors", "skip-gram/analogy_gain", ">=", 0.0, presets=("default", "full")),
    ],
    data="a generated corpus with known meanings (embedded); --data DIR: Penn Treebank or WikiText-2 text; auto: $DEEPKATA_DATA/ptb when present",
    takes_data=True,
)
def run(cfg: WordVectorsConfig, run: Run) -> Outcome:
    sentences, pairs, analogies, source = _load(cfg, run)
    vocab = WordVocab.build(sentences, cfg.min_count)
    stream = vocab.encode(sentences)
    if len(stream) < 2:
        raise UserError(f"{source}: fewer than 2 tokens of words seen {cfg.min_count} times (min_count)")

    trained = [m for m in cfg.models if m != "count"]

    def make_job(mode: str, ctx: JobContext) -> TrainerJob:
        if mode == "masked":
            net = MaskedWordModel(replace(cfg.masked_net, vocab=len(vocab), dim=cfg.dim))
            return TrainerJob(MaskedWordTrainer(net, cfg.masked, stream, ctx.device, seed=run.seed), ctx)
        model = Word2Vec(Word2VecConfig(vocab=len(vocab), dim=cfg.dim, mode=mode))  # type: ignore[arg-type]
        return TrainerJob(Word2VecTrainer(model, cfg.train, stream, vocab.counts, ctx.device, backend=cfg.backend, seed=run.seed), ctx)

    done = run.sweep([JobSpec(m, m) for m in trained], make_job, description=f"{len(trained)} trained model(s)") if trained else {}
    vectors: dict[str, np.ndarray] = {m: (done[m]["vectors"] if m == "masked" else done[m]["state"]["inputs.weight"]).numpy() for m in trained}
    timings: dict[str, float] = {f"{m}/seconds": done[m]["seconds"] for m in trained}
    if "count" in cfg.models:
        start = time.perf_counter()
        vectors["count"] = svd_vectors(ppmi(cooccurrence(stream, len(vocab), cfg.train.window), alpha=cfg.cds), cfg.dim, power=cfg.svd_power, seed=run.seed)
        timings["count/seconds"] = time.perf_counter() - start
    vectors = {m: vectors[m] for m in cfg.models}
    vectors["random"] = np.random.default_rng(run.seed).normal(size=(len(vocab), cfg.dim)).astype(np.float32)

    metrics: dict[str, float | int | None] = {"vocab/words": len(vocab), "corpus/tokens": len(stream)}
    rows = []
    for name, v in vectors.items():
        sim, ana = similarity_spearman(v, vocab.words, pairs), analogy_accuracy(v, vocab.words, analogies)
        sem, syn = ana.part(semantic=True), ana.part(semantic=False)
        metrics |= {f"{name}/wordsim_rho": sim.spearman, f"{name}/wordsim_pairs": sim.pairs, f"{name}/analogy_accuracy": ana.accuracy,
                    f"{name}/analogy_answered": ana.answered}  # fmt: skip
        if name in done:
            metrics[f"{name}/train_loss"] = done[name]["history"]["train_loss"][-1] if done[name]["history"].get("train_loss") else None
            if name != "masked":
                metrics[f"{name}/words_per_second"] = done[name]["words_per_second"]
            else:
                metrics["masked/val_accuracy"] = done[name]["history"]["val_accuracy"][-1]
        rows.append({
            "model": LABELS[name], "WordSim ρ": f"{sim.spearman:.3f}", "pairs known": f"{sim.pairs}/{sim.pairs + sim.oov}",
            "analogies": f"{ana.accuracy:.1%}", "semantic": _share(*sem), "syntactic": _share(*syn),
            "answerable": f"{ana.answered:,}/{ana.total:,} ({ana.coverage:.0%})",
            "training (s)": f"{timings.get(f'{name}/seconds', 0.0):.1f}",
        })  # fmt: skip
    metrics["analogy/coverage"] = ana.coverage  # the same for every model: it depends on the vocabulary only
    learned = list(cfg.models)
    metrics["words/min_rho_gain"] = min(float(metrics[f"{m}/wordsim_rho"]) - float(metrics["random/wordsim_rho"]) for m in learned)  # type: ignore[arg-type]
    if "skip-gram" in vectors:
        metrics["skip-gram/analogy_gain"] = float(metrics["skip-gram/analogy_accuracy"]) - float(metrics["random/analogy_accuracy"])  # type: ignore[arg-type]
    metrics["words/diverged"] = sum(r["diverged"] is not None for r in done.values())

    table = run.save_table("vectors", rows, f"Each model's {cfg.dim}-D vectors of {len(vocab):,} words: WordSim ρ ({pairs.source}) and 3CosAdd analogy accuracy ({analogies.source})")
    shown = _chosen_words(cfg, vocab, analogies)
    neighbour_rows = [
        {"word": w, **{LABELS[m]: ", ".join(vocab.words[i] for i, _ in nearest(vectors[m], vocab.index[w], cfg.neighbours)) for m in cfg.models}} for w in shown
    ]  # fmt: skip
    neighbours = run.save_table("neighbours", neighbour_rows, f"The {cfg.neighbours} nearest words in cosine, by model")
    best = max(cfg.models, key=lambda m: float(metrics[f"{m}/wordsim_rho"]))  # type: ignore[arg-type]
    pairs = _map_pairs(vocab, analogies)
    if pairs:
        run.save_figure(_projection(vectors[best], vocab, pairs), "projection",
                        f"{LABELS[best]} (the best WordSim ρ): word pairs of an analogy section, projected on their mean offset (x) and the main direction orthogonal to it (y); each arrow runs from a word to its partner: parallel arrows make analogies work")  # fmt: skip
    run.save_file("vectors.npz", lambda path: records.atomic_write(path, lambda f: np.savez(f, words=np.asarray(vocab.words), counts=vocab.counts,
                                                                                         **{m.replace("-", "_"): vectors[m] for m in cfg.models})))  # fmt: skip

    summary = (
        f"{len(cfg.models)} model(s) of {cfg.dim}-D vectors for {len(vocab):,} words of {source} ({len(stream):,} tokens). "
        + " ".join(f"{LABELS[m]}: WordSim ρ {metrics[f'{m}/wordsim_rho']:.3f}, analogies {metrics[f'{m}/analogy_accuracy']:.1%}." for m in cfg.models)
        + f" Random vectors: ρ {metrics['random/wordsim_rho']:.3f}, analogies {metrics['random/analogy_accuracy']:.1%}."
        + f" The vocabulary can answer {metrics['analogy/coverage']:.0%} of the analogy questions."
        + "".join(f" {LABELS[m]} trained at {metrics[f'{m}/words_per_second']:,.0f} effective words/s ({cfg.backend})." for m in trained if m != "masked")
        + (f" The masked-word model fills {metrics['masked/val_accuracy']:.1%} of held-out masked words." if "masked" in trained else "")
    )
    return Outcome(metrics, summary, [("The vectors", table), ("Nearest neighbours", neighbours)], timings=timings, data=source)


def _share(correct: int, answered: int) -> str:
    return f"{correct / answered:.1%} of {answered:,}" if answered else "—"


def _load(cfg: WordVectorsConfig, run: Run) -> tuple[list[list[str]], WordPairs, Analogies, str]:
    """The training sentences, the evaluation sets and a description of the corpus."""
    folder: Path | None = None
    env = os.environ.get("DEEPKATA_DATA")
    if cfg.corpus == "auto":
        if run.data is not None:
            folder = run.data
        elif env and (Path(env) / "ptb").is_dir():
            folder = Path(env) / "ptb"
    elif cfg.corpus != "generated":
        folder = run.data or (Path(env) / cfg.corpus if env else None)
        if folder is None:
            raise UserError(f"corpus={cfg.corpus}: pass --data DIR (the corpus's folder) or set DEEPKATA_DATA to the folder that holds {cfg.corpus}/")
    if folder is None:
        corpus = make_corpus(cfg.generated_words, seed=run.seed)
        return corpus.sentences, corpus.pairs, corpus.analogies, corpus.source
    name = detect_corpus(folder)
    train = read_corpus_split(folder, "train", name)
    places = [Path(env) / "word_eval"] if env else []
    places.append(folder.parent / "word_eval")
    evaluation = next((p for p in places if (p / "wordsim353.tsv").is_file()), None)
    if evaluation is None:
        raise UserError(f"no word_eval folder with wordsim353.tsv and questions-words.txt in $DEEPKATA_DATA or beside {folder}")
    return train.sentences, read_word_pairs(evaluation / "wordsim353.tsv"), read_analogies(evaluation / "questions-words.txt"), train.source


def _chosen_words(cfg: WordVectorsConfig, vocab: WordVocab, analogies: Analogies) -> list[str]:
    if cfg.words != ("auto",):
        missing = [w for w in cfg.words if w not in vocab]
        if missing:
            raise ConfigError(f"words: not in the vocabulary: {', '.join(missing)}")
        return list(cfg.words)
    common = [w for w in COMMON_WORDS if w in vocab]  # everyday words, where the corpus has them
    if len(common) >= 4:
        return common[:6]
    picked: list[str] = []
    for questions in analogies.sections.values():  # the first known word of each section's first answerable question
        for q in questions:
            if all(w in vocab for w in q):
                picked.append(q[0])
                break
    return list(dict.fromkeys(picked))[:6] or vocab.words[:5]


def _map_pairs(vocab: WordVocab, analogies: Analogies, count: int = 6) -> list[tuple[str, str]]:
    """Up to ``count`` distinct word pairs (a, b) of the answerable questions of the first section that has them."""
    for questions in analogies.sections.values():
        pairs: list[tuple[str, str]] = []
        for q in questions:
            if all(w in vocab for w in q):
                for pair in ((q[0], q[1]), (q[2], q[3])):
                    if pair not in pairs and not any(w in p for p in pairs for w in pair):
                        pairs.append(pair)
            if len(pairs) >= count:
                break
        if len(pairs) >= 2:
            return pairs[:count]
    return []


def _projection(vectors: np.ndarray, vocab: WordVocab, pairs: list[tuple[str, str]]) -> Any:
    words = [w for pair in pairs for w in pair]
    x = vectors[[vocab.index[w] for w in words]].astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x -= x.mean(0)
    offset = (x[1::2] - x[0::2]).mean(0)  # the pairs' mean offset a -> b
    offset /= max(np.linalg.norm(offset), 1e-12)
    rest = x - np.outer(x @ offset, offset)  # what is left orthogonal to it
    _, _, vt = np.linalg.svd(rest, full_matrices=False)
    xy = np.stack([x @ offset, rest @ vt[0]], axis=1)  # (n, 2): along the offset, then the main direction across it
    fig, ax = figure(1, 1, width=6.5, height=5.0)
    ax.scatter(xy[:, 0], xy[:, 1], s=12)
    for k in range(len(pairs)):  # an arrow from a to b: parallel arrows are what analogies need
        (x0, y0), (x1, y1) = xy[2 * k], xy[2 * k + 1]
        ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "->", "color": "tab:gray", "lw": 0.8})
    for (px, py), w in zip(xy, words):
        ax.annotate(w, (px, py), textcoords="offset points", xytext=(3, 3), fontsize=9)
    ax.set(xlabel="along the pairs' mean offset", ylabel="first principal component across it", title="Word pairs of one analogy section")
    return fig
