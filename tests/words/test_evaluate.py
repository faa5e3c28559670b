"""Word similarity and analogies against hand-computed answers and against gensim's own evaluations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from deepkata.core.errors import UserError
from deepkata.datasets.corpora import detect_corpus, read_corpus_split
from deepkata.words.evaluate import (
    Analogies,
    WordPairs,
    analogy_accuracy,
    answer_analogies,
    nearest,
    read_analogies,
    read_word_pairs,
    similarity_spearman,
    unit_rows,
)
from deepkata.words.generated import make_corpus


def test_the_analogy_answer_is_the_closest_word_to_b_minus_a_plus_c() -> None:
    words = ["man", "woman", "king", "queen", "apple"]
    v = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 0.2]], dtype=np.float32)
    score = analogy_accuracy(v, words, Analogies({"family": [("man", "woman", "king", "queen"), ("man", "king", "woman", "queen"), ("man", "woman", "pear", "x")]}, "t"))
    assert (score.correct, score.answered, score.total) == (2, 2, 3)
    assert score.by_section == {"family": (2, 2)} and score.part(semantic=True) == (2, 2) and score.part(semantic=False) == (0, 0)
    # a, b and c never answer, even when closest
    unit = unit_rows(np.array([[1, 0], [1, 0.01], [0.99, 0.1], [0, 1]]))
    assert answer_analogies(unit, np.array([[0, 1, 2]])).tolist() == [3]


def test_similarity_counts_unknown_pairs_and_matches_case_insensitively() -> None:
    words = ["cat", "dog", "car", "Paris"]
    v = np.array([[1, 0.1], [1, 0.3], [0, 1], [0.5, 0.5]])
    pairs = WordPairs([("cat", "dog", 9.0), ("CAT", "car", 2.0), ("dog", "car", 3.0), ("paris", "cat", 5.0), ("cat", "zebra", 7.0)], "t")
    score = similarity_spearman(v, words, pairs)
    cos = lambda a, b: float(v[a] @ v[b] / np.linalg.norm(v[a]) / np.linalg.norm(v[b]))
    expected = stats.spearmanr([9, 2, 3, 5], [cos(0, 1), cos(0, 2), cos(1, 2), cos(3, 0)]).statistic
    assert score.pairs == 4 and score.oov == 1 and score.spearman == pytest.approx(expected)


def test_nearest_lists_the_closest_rows_without_the_word() -> None:
    v = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.7, 0.7]])
    assert [i for i, _ in nearest(v, 0, 2)] == [1, 3]
    assert [i for i, _ in nearest(v, np.array([0.0, 1.0]), 2, exclude=(2,))] == [3, 1]


def test_bad_evaluation_files_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "pairs.tsv"
    bad.write_text("# header\ncat\tdog\tnine\n")
    with pytest.raises(UserError, match=r"pairs.tsv, line 2: expected 'word1<TAB>word2<TAB>score'"):
        read_word_pairs(bad)
    questions = tmp_path / "q.txt"
    questions.write_text(": sec\na b c\n")
    with pytest.raises(UserError, match=r"q.txt, line 2: expected four words"):
        read_analogies(questions)
    questions.write_text("a b c d\n")
    with pytest.raises(UserError, match=r"line 1: expected a ': section' header first"):
        read_analogies(questions)
    with pytest.raises(UserError, match="no such file"):
        read_word_pairs(tmp_path / "missing.tsv")


def test_corpora_are_read_a_sentence_a_line(tmp_path: Path) -> None:
    (tmp_path / "wiki.train.tokens").write_text(" \n = Title = \n the cat sat . \n\n = = Part = = \n a dog @-@ like cat \n")
    assert detect_corpus(tmp_path) == "wikitext-2"
    assert read_corpus_split(tmp_path, "train").sentences == [["the", "cat", "sat", "."], ["a", "dog", "@-@", "like", "cat"]]
    with pytest.raises(UserError, match=r"wiki.valid.tokens: no such file"):
        read_corpus_split(tmp_path, "valid")
    with pytest.raises(UserError, match="no text corpus here"):
        detect_corpus(tmp_path / "elsewhere")


def test_the_generated_corpus_holds_its_analogies() -> None:
    corpus = make_corpus(5_000, seed=3)
    assert sum(len(s) for s in corpus.sentences) >= 5_000
    seen = {w for s in corpus.sentences for w in s}
    asked = {w for q in corpus.analogies.sections.values() for question in q for w in question}
    assert asked <= seen and set(corpus.analogies.sections) == {"family", "capital-world", "gram-plural"}
    assert ("king", "queen", "man", "woman") in corpus.analogies.sections["family"]
    assert make_corpus(5_000, seed=3).sentences == corpus.sentences  # deterministic


gensim = pytest.importorskip("gensim", reason="gensim (the test extra) scores the same vectors for comparison")


def _keyed(words: list[str], vectors: np.ndarray):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    return kv


def test_the_scores_equal_gensims_on_the_same_vectors(tmp_path: Path) -> None:
    corpus = make_corpus(2_000, seed=0)
    words = sorted({w for s in corpus.sentences for w in s})
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(words), 8)).astype(np.float32)
    for q in corpus.analogies.sections["family"][:30]:  # make some questions come out right
        vectors[words.index(q[3])] = vectors[words.index(q[1])] - vectors[words.index(q[0])] + vectors[words.index(q[2])]
    pairs_file, questions_file = tmp_path / "pairs.tsv", tmp_path / "questions.txt"
    pairs_file.write_text("# w1\tw2\tscore\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in corpus.pairs.pairs) + "king\tunknownword\t3\n")
    questions_file.write_text("".join(f": {name}\n" + "".join(" ".join(q) + "\n" for q in qs) for name, qs in corpus.analogies.sections.items()) + "king queen unknownword x\n")
    kv = _keyed(words, vectors)
    _, (rho, _), oov_percent = kv.evaluate_word_pairs(str(pairs_file))
    accuracy, _ = kv.evaluate_word_analogies(str(questions_file))
    ours = similarity_spearman(vectors, words, read_word_pairs(pairs_file))
    score = analogy_accuracy(vectors, words, read_analogies(questions_file))
    assert ours.spearman == pytest.approx(rho, abs=1e-6) and 100 * ours.oov / (ours.pairs + ours.oov) == pytest.approx(oov_percent)
    assert score.accuracy == pytest.approx(accuracy) and 0.05 < score.accuracy < 0.95
