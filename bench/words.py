"""Word vectors against gensim: the same corpus and settings, quality over seeds and speed side by side.

Our word2vec (PyTorch, sparse embeddings; and the NumPy from-scratch version for its speed) and
gensim's ``Word2Vec`` train on the same sentences with the same dimension, window, negatives,
subsampling, epochs, min_count and starting learning rate (gensim's defaults: 100, 5, 5, 1e-3,
5, 5, 0.025). Both sets of vectors are scored by :mod:`deepkata.words.evaluate`, which equals
gensim's own ``evaluate_word_pairs`` / ``evaluate_word_analogies`` (tests/words/test_evaluate.py):
WordSim-353 Spearman ρ and Google-analogy accuracy over the answerable questions. Issue 20's
targets: skip-gram within 0.02 of gensim's ρ and within 2 points of its analogy accuracy (means
over the seeds); PyTorch word2vec at least half gensim's effective words per second.

Speed is one epoch of each, at 1 and then 2 threads (``torch.set_num_threads``, gensim's
``workers``), measured in the same run one after the other: effective words (those left after
subsampling) per second of training, the vocabulary already built. Run it alone.

    python bench/words.py                          # PTB from $DEEPKATA_DATA, 3 seeds (about 10 minutes)
    python bench/words.py --corpus wikitext-2 --seeds 0
    python bench/words.py --only speed             # the speed table again, the quality table kept from the record
    python bench/words.py --smoke --out /tmp/w     # every step at a tiny size (CI)
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from _shared import add_options, over_seeds, parse

SMOKE = {"corpus": "generated", "seeds": [0, 1], "epochs": 1, "dim": 16, "threads": [1], "numpy_words": 5_000}
MODES = ("skip-gram", "cbow")


def load(corpus: str) -> tuple[list[list[str]], Any, Any, str]:
    from deepkata.datasets.corpora import read_corpus_split
    from deepkata.words.evaluate import read_analogies, read_word_pairs
    from deepkata.words.generated import make_corpus

    if corpus == "generated":
        c = make_corpus(20_000, seed=0)
        return c.sentences, c.pairs, c.analogies, c.source
    root = os.environ.get("DEEPKATA_DATA")
    if not root:
        raise SystemExit("bench/words.py: set DEEPKATA_DATA to the folder that holds ptb/, wikitext-2/ and word_eval/ (or pass --corpus generated)")
    split = read_corpus_split(Path(root) / corpus, "train")
    evaluation = Path(root) / "word_eval"
    return split.sentences, read_word_pairs(evaluation / "wordsim353.tsv"), read_analogies(evaluation / "questions-words.txt"), split.source


def ours(sentences: list[list[str]], mode: str, args: argparse.Namespace, seed: int, *, epochs: int, backend: str = "torch", limit: int = 0) -> tuple[np.ndarray, list[str], float, int]:
    """Our word2vec: (vectors, words, seconds of training, effective words)."""
    import torch

    from deepkata.words.vocab import TokenStream
    from deepkata.words.word2vec import Word2Vec, Word2VecConfig, Word2VecRecipe, Word2VecTrainer

    vocab, stream = _encoded(sentences, args.min_count)
    if limit:
        stream = TokenStream(stream.ids[:limit], stream.sentence[:limit])
    torch.manual_seed(seed)
    model = Word2Vec(Word2VecConfig(vocab=len(vocab), dim=args.dim, mode=mode))  # type: ignore[arg-type]
    recipe = Word2VecRecipe(epochs=epochs, window=args.window, negatives=args.negatives, sample=args.sample, lr=0.025)
    trainer = Word2VecTrainer(model, recipe, stream, vocab.counts, torch.device("cpu"), backend=backend, seed=seed)  # type: ignore[arg-type]
    while not trainer.done:
        trainer.train_chunk()
    if trainer.diverged:
        raise SystemExit(f"bench/words.py: our {mode} diverged: {trainer.diverged}")
    return model.inputs.weight.detach().numpy().copy(), vocab.words, trainer.seconds, trainer.effective


_ENCODED: dict[tuple[int, int], Any] = {}


def _encoded(sentences: list[list[str]], min_count: int) -> Any:
    """The corpus's vocabulary and token stream, built once for all the runs of this benchmark."""
    from deepkata.words.vocab import WordVocab

    key = (id(sentences), min_count)
    if key not in _ENCODED:
        vocab = WordVocab.build(sentences, min_count)
        _ENCODED[key] = (vocab, vocab.encode(sentences))
    return _ENCODED[key]


def gensims(sentences: list[list[str]], mode: str, args: argparse.Namespace, seed: int, *, epochs: int, workers: int) -> tuple[np.ndarray, list[str], float, int]:
    """gensim's word2vec: (vectors, words, seconds of training, effective words)."""
    from gensim.models import Word2Vec as GensimWord2Vec

    model = GensimWord2Vec(vector_size=args.dim, window=args.window, negative=args.negatives, sample=args.sample, min_count=args.min_count,
                           sg=int(mode == "skip-gram"), alpha=0.025, seed=seed, workers=workers)  # fmt: skip
    model.build_vocab(sentences)
    start = time.perf_counter()
    effective, _ = model.train(sentences, total_examples=len(sentences), epochs=epochs)
    return model.wv.vectors.copy(), list(model.wv.index_to_key), time.perf_counter() - start, int(effective)


def scores(vectors: np.ndarray, words: list[str], pairs: Any, analogies: Any) -> dict[str, float]:
    from deepkata.words.evaluate import analogy_accuracy, similarity_spearman

    sim, ana = similarity_spearman(vectors, words, pairs), analogy_accuracy(vectors, words, analogies)
    return {"wordsim_rho": sim.spearman, "analogy_accuracy": ana.accuracy, "analogy_coverage": ana.coverage, "wordsim_pairs": sim.pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="ptb", choices=["ptb", "wikitext-2", "generated"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--sample", type=float, default=1e-3)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts of the speed table")
    parser.add_argument("--numpy-words", type=int, default=200_000, help="tokens the NumPy version's speed is measured on (it is slow)")
    parser.add_argument("--only", choices=["quality", "speed"], default=None,
                        help="measure one part; the other is carried over from the existing record in --out (with the command that measured it)")  # fmt: skip
    add_options(parser)
    args = parse(parser, SMOKE)

    import torch

    from deepkata.core.benchmark import record
    from deepkata.core.records import environment

    env = environment()
    sentences, pairs, analogies, source = load(args.corpus)
    settings = {"corpus": source, "dim": args.dim, "window": args.window, "negatives": args.negatives, "sample": args.sample,
                "min_count": args.min_count, "epochs": args.epochs, "alpha": 0.025}  # fmt: skip

    previous = _previous(args.out / "words.json") if args.only else {}
    quality: dict[str, Any] = previous.get("quality", {})
    speed: list[dict[str, Any]] = previous.get("speed", [])
    numpy_speed: list[dict[str, Any]] = previous.get("numpy_speed", [])
    carried = {part: previous["measured_by"][part] for part in ("quality", "speed") if previous and part != args.only}
    # quality: both at 2 threads (gensim's workers), each seed
    torch.set_num_threads(max(args.threads))
    for mode in MODES if args.only != "speed" else ():
        per_seed: dict[str, dict[int, dict[str, float]]] = {"deepkata": {}, "gensim": {}}
        for seed in args.seeds:
            v, w, _, _ = ours(sentences, mode, args, seed, epochs=args.epochs)
            per_seed["deepkata"][seed] = scores(v, w, pairs, analogies)
            v, w, _, _ = gensims(sentences, mode, args, seed, epochs=args.epochs, workers=max(args.threads))
            per_seed["gensim"][seed] = scores(v, w, pairs, analogies)
        rows = []
        for metric in ("wordsim_rho", "analogy_accuracy"):
            for tool in ("deepkata", "gensim"):
                rows.append({"tool": tool, "metric": metric, **over_seeds({s: r[metric] for s, r in per_seed[tool].items()})})
        gap_rho = np.mean([per_seed["deepkata"][s]["wordsim_rho"] - per_seed["gensim"][s]["wordsim_rho"] for s in args.seeds])
        gap_acc = np.mean([per_seed["deepkata"][s]["analogy_accuracy"] - per_seed["gensim"][s]["analogy_accuracy"] for s in args.seeds])
        quality[mode] = {"rows": rows, "rho_gap_mean": float(gap_rho), "analogy_gap_points_mean": float(100 * gap_acc),
                         "coverage": per_seed["gensim"][args.seeds[0]]["analogy_coverage"],
                         "within_target": bool(abs(gap_rho) <= 0.02 and abs(100 * gap_acc) <= 2.0)}  # fmt: skip

    # speed: one epoch each, 1 then 2 threads, side by side
    if args.only != "quality":
        speed, numpy_speed = _speed(sentences, args)
    from deepkata.core.benchmark import command

    measured_by = {part: carried.get(part) if args.only and part != args.only else command() for part in ("quality", "speed")}
    results = {"settings": settings, "seeds": previous.get("seeds", args.seeds) if args.only == "speed" else args.seeds, "quality": quality, "speed": speed, "numpy_speed": numpy_speed,
               "speed_target_met": bool(speed) and all(r["ratio_vs_gensim"] >= 0.5 for r in speed), "measured_by": measured_by}  # fmt: skip
    record("words", results, env=env, out_dir=args.out)


def _previous(path: Path) -> dict[str, Any]:
    """The results of an existing record, with the command that measured each part."""
    import json

    if not path.is_file():
        return {}
    payload = json.loads(path.read_text())
    results = payload["results"]
    results.setdefault("measured_by", {"quality": payload["command"], "speed": payload["command"]})
    results["command"] = payload["command"]
    return results


def _speed(sentences: list[list[str]], args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    import torch

    speed = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for mode in MODES:
            _, _, seconds, words = ours(sentences, mode, args, 0, epochs=1)
            ours_rate = words / seconds
            _, _, a_seconds, a_words = ours(sentences, mode, args, 0, epochs=1, backend="autograd")
            _, _, g_seconds, g_words = gensims(sentences, mode, args, 0, epochs=1, workers=threads)
            gensim_rate = g_words / g_seconds
            speed.append({"mode": mode, "threads": threads, "deepkata_torch_words_per_s": ours_rate, "gensim_words_per_s": gensim_rate,
                          "ratio_vs_gensim": ours_rate / gensim_rate, "deepkata_autograd_words_per_s": a_words / a_seconds,
                          "autograd_ratio_vs_gensim": (a_words / a_seconds) / gensim_rate})  # fmt: skip
    torch.set_num_threads(1)
    numpy_speed = []
    for mode in MODES:
        _, _, seconds, words = ours(sentences, mode, args, 0, epochs=1, backend="numpy", limit=args.numpy_words)
        _, _, t_seconds, t_words = ours(sentences, mode, args, 0, epochs=1, limit=args.numpy_words)
        numpy_speed.append({"mode": mode, "threads": 1, "numpy_words_per_s": words / seconds, "torch_words_per_s": t_words / t_seconds,
                            "numpy_vs_torch": (words / seconds) / (t_words / t_seconds)})  # fmt: skip
    return speed, numpy_speed


if __name__ == "__main__":
    main()
