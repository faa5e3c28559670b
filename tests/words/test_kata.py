"""The word-vectors kata on a corpus in PTB's files, and ``deepkata words`` on its run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from deepkata.words.generated import make_corpus
from tests.conftest import run_kata


def _ptb_like(root: Path) -> Path:
    """The generated corpus written as PTB's files, its evaluation sets as word_eval's, beside it."""
    corpus = make_corpus(30_000, seed=2)
    (root / "ptb").mkdir()
    for split, part in (("train", corpus.sentences), ("valid", corpus.sentences[:50]), ("test", corpus.sentences[50:100])):
        (root / "ptb" / f"ptb.{split}.txt").write_text("".join(" " + " ".join(s) + " \n" for s in part))
    (root / "word_eval").mkdir()
    (root / "word_eval" / "wordsim353.tsv").write_text("# Word 1\tWord 2\tHuman (mean)\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in corpus.pairs.pairs))
    (root / "word_eval" / "questions-words.txt").write_text("".join(f": {n}\n" + "".join(" ".join(q) + "\n" for q in qs) for n, qs in corpus.analogies.sections.items()))
    return root / "ptb"


def test_the_kata_reads_a_corpus_folder_and_the_command_asks_its_vectors(tmp_path: Path, monkeypatch, cli) -> None:
    monkeypatch.delenv("DEEPKATA_DATA", raising=False)
    folder = _ptb_like(tmp_path)
    res = run_kata("word-vectors", tmp_path / "runs", preset="default", sets=["corpus=ptb", "train.epochs=5", "dim=24", "models=count,cbow,skip-gram"], data=folder)
    result = json.loads((res.dir / "result.json").read_text())
    assert result["status"] == "completed", result.get("error")
    m = result["metrics"]
    assert m["vocab/words"] > 100 and m["skip-gram/wordsim_pairs"] == len(make_corpus(30_000, seed=2).pairs.pairs)
    # the known meanings are learnt: analogies far above random vectors', similarity above theirs
    for model in ("count", "cbow", "skip-gram"):
        assert m[f"{model}/analogy_accuracy"] > 0.4 > m["random/analogy_accuracy"] + 0.2
        assert m[f"{model}/wordsim_rho"] > m["random/wordsim_rho"]
    with np.load(res.dir / "vectors.npz") as saved:
        assert set(saved.files) == {"words", "counts", "count", "cbow", "skip_gram"} and saved["skip_gram"].shape == (m["vocab/words"], 24)

    code, out, _ = cli("words", "--run", str(res.dir), "--model", "skip-gram", "analogy", "king", "-", "man", "+", "woman", "--top", "3")
    assert code == 0 and out.startswith("king - man + woman: ") and "queen" in out
    code, out, _ = cli("words", "--run", str(res.dir), "--model", "count", "neighbours", "paris")
    assert code == 0 and "france" in out
    code, _, err = cli("words", "--run", str(res.dir), "neighbours", "kingg")
    assert code == 2 and "'kingg' is not in the vocabulary" in err and "closest known: king" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("words", "--run", str(tmp_path), "neighbours", "king")
    assert code == 2 and "not a run folder" in err
