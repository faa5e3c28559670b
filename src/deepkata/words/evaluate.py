"""How good word vectors are: word similarity (WordSim-353) and word analogies (Google's questions).

Both follow gensim's ``KeyedVectors.evaluate_word_pairs`` and ``evaluate_word_analogies`` (the
peer the benchmark compares with), so that the same vectors score the same in both:

- **Similarity.** The cosine of each pair's vectors against the human score, by Spearman's ρ
  (average ranks for ties) over the pairs whose words are both known; the unknown pairs are
  counted (``oov``), not scored.
- **Analogies.** ``a : b :: c : ?`` is answered by 3CosAdd (Mikolov et al., 2013): the known word
  closest in cosine to ``b - a + c`` on unit vectors, other than a, b or c. Accuracy is over the
  questions whose four words are known; coverage is their share of all questions. Sections whose
  name does not start with ``gram`` are the semantic ones.

Words are matched case-insensitively among the ``restrict`` most frequent (gensim's default,
300,000): a word's upper-case form stands for its most frequent spelling, and only that spelling
competes as an answer (gensim also lets a rarer spelling answer; on a lower-case corpus such as
PTB the two agree exactly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from deepkata.core.errors import UserError
from deepkata.datasets.corpora import read_lines

__all__ = [
    "Analogies", "AnalogyScore", "SimilarityScore", "WordPairs", "analogy_accuracy", "answer_analogies", "nearest",
    "read_analogies", "read_word_pairs", "similarity_spearman", "unit_rows",
]  # fmt: skip

RESTRICT = 300_000


@dataclass(frozen=True)
class WordPairs:
    """Word pairs with a human similarity score (WordSim-353's format)."""

    pairs: list[tuple[str, str, float]]
    source: str


@dataclass(frozen=True)
class Analogies:
    """Analogy questions ``a b c d`` (a : b :: c : d) by section, in file order."""

    sections: dict[str, list[tuple[str, str, str, str]]]
    source: str

    @property
    def questions(self) -> int:
        return sum(len(q) for q in self.sections.values())


def read_word_pairs(path: Path) -> WordPairs:
    """``word1 <TAB> word2 <TAB> score`` lines; lines starting ``#`` are comments."""
    pairs = []
    for number, line in enumerate(read_lines(path), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.rstrip("\n").split("\t")
        try:
            if len(parts) != 3:
                raise ValueError
            pairs.append((parts[0], parts[1], float(parts[2])))
        except ValueError:
            raise UserError(f"{path}, line {number}: expected 'word1<TAB>word2<TAB>score', got {line.strip()[:60]!r}") from None
    if not pairs:
        raise UserError(f"{path}: no word pairs (expected 'word1<TAB>word2<TAB>score' lines)")
    return WordPairs(pairs, str(path))


def read_analogies(path: Path) -> Analogies:
    """``: section`` headers, then ``a b c d`` lines (word2vec's ``questions-words.txt``)."""
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    current = None
    for number, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        if line.startswith(":"):
            current = line[1:].strip()
            sections.setdefault(current, [])
            continue
        words = line.split()
        if current is None or len(words) != 4:
            expected = "a ': section' header first" if current is None else "four words 'a b c d'"
            raise UserError(f"{path}, line {number}: expected {expected}, got {line.strip()[:60]!r}")
        sections[current].append((words[0], words[1], words[2], words[3]))
    if not any(sections.values()):
        raise UserError(f"{path}: no analogy questions (expected ': section' headers and 'a b c d' lines)")
    return Analogies(sections, str(path))


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row divided by its length (zero rows stay zero), as float32."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(norms, 1e-12)


def _case_index(words: Sequence[str], restrict: int) -> dict[str, int]:
    """UPPER-CASE word -> row of its most frequent spelling among the first ``restrict`` words."""
    index: dict[str, int] = {}
    for i, w in enumerate(words[:restrict]):
        index.setdefault(w.upper(), i)
    return index


@dataclass(frozen=True)
class SimilarityScore:
    spearman: float  # nan when fewer than 2 pairs are known
    pairs: int  # pairs scored
    oov: int  # pairs with an unknown word

    @property
    def coverage(self) -> float:
        return self.pairs / max(1, self.pairs + self.oov)


def similarity_spearman(vectors: np.ndarray, words: Sequence[str], pairs: WordPairs, *, restrict: int = RESTRICT) -> SimilarityScore:
    """Spearman's ρ between the vectors' cosines and the human scores, over the known pairs."""
    index, unit = _case_index(words, restrict), unit_rows(vectors)
    model, human, oov = [], [], 0
    for a, b, score in pairs.pairs:
        i, j = index.get(a.upper()), index.get(b.upper())
        if i is None or j is None:
            oov += 1
            continue
        model.append(float(unit[i] @ unit[j]))
        human.append(score)
    rho = float(stats.spearmanr(human, model).statistic) if len(model) >= 2 else float("nan")
    return SimilarityScore(rho, len(model), oov)


@dataclass(frozen=True)
class AnalogyScore:
    correct: int
    answered: int  # questions whose four words are known
    total: int
    by_section: dict[str, tuple[int, int]] = field(default_factory=dict)  # section -> (correct, answered)

    @property
    def accuracy(self) -> float:
        return self.correct / self.answered if self.answered else float("nan")

    @property
    def coverage(self) -> float:
        return self.answered / self.total if self.total else float("nan")

    def part(self, semantic: bool) -> tuple[int, int]:
        """(correct, answered) over the semantic sections, or over the syntactic (``gram*``) ones."""
        rows = [v for k, v in self.by_section.items() if k.startswith("gram") != semantic]
        return sum(c for c, _ in rows), sum(n for _, n in rows)


def answer_analogies(unit: np.ndarray, questions: np.ndarray, *, batch: int = 512) -> np.ndarray:
    """3CosAdd: for rows (a, b, c) of ``questions`` (Q, 3), the row closest to b - a + c among
    ``unit``'s rows (unit vectors), a, b and c excluded: (Q,)."""
    answers = np.empty(len(questions), dtype=np.int64)
    for start in range(0, len(questions), batch):
        q = questions[start : start + batch]
        target = unit[q[:, 1]] - unit[q[:, 0]] + unit[q[:, 2]]  # (B, D); its length does not change the argmax
        scores = target @ unit.T  # (B, V)
        np.put_along_axis(scores, q, -np.inf, axis=1)
        answers[start : start + batch] = scores.argmax(1)
    return answers


def analogy_accuracy(vectors: np.ndarray, words: Sequence[str], analogies: Analogies, *, restrict: int = RESTRICT) -> AnalogyScore:
    """3CosAdd accuracy over the answerable questions, by section, among the first ``restrict`` words."""
    index = _case_index(words, restrict)
    rows = sorted(set(index.values()))  # the candidate answers: one row per upper-case form
    unit = unit_rows(np.asarray(vectors)[rows])
    position = {r: k for k, r in enumerate(rows)}
    local = {key: position[i] for key, i in index.items()}
    by_section, correct, answered = {}, 0, 0
    for name, questions in analogies.sections.items():
        known = [[local.get(w.upper(), -1) for w in q] for q in questions]
        known_arr = np.asarray([k for k in known if min(k) >= 0], dtype=np.int64).reshape(-1, 4)
        right = int((answer_analogies(unit, known_arr[:, :3]) == known_arr[:, 3]).sum()) if len(known_arr) else 0
        by_section[name] = (right, len(known_arr))
        correct, answered = correct + right, answered + len(known_arr)
    return AnalogyScore(correct, answered, analogies.questions, by_section)


def nearest(vectors: np.ndarray, row: int | np.ndarray, n: int = 10, *, exclude: Sequence[int] = ()) -> list[tuple[int, float]]:
    """The ``n`` rows closest in cosine to row ``row`` (or to a query vector), excluding ``exclude``
    (and the row itself): [(row, cosine)], closest first."""
    unit = unit_rows(vectors)
    query = unit[row] if isinstance(row, int) else unit_rows(np.asarray(row)[None])[0]
    scores = unit @ query
    skip = [*exclude, *([row] if isinstance(row, int) else [])]
    scores[list(skip)] = -np.inf
    top = np.argpartition(-scores, min(n, len(scores) - 1))[:n]
    top = top[np.argsort(-scores[top])]
    return [(int(i), float(scores[i])) for i in top if np.isfinite(scores[i])]
