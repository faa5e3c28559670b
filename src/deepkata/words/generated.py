"""A generated corpus whose meanings are known: the embedded default of the word-vector kata.

Every content word is a **key** (what it is about) crossed with an **attribute** (gender,
country or capital, one or many), in three families:

- gender: king/queen, prince/princess, man/woman, boy/girl, father/mother, son/daughter, ...
- capitals: france/paris, japan/tokyo, ... (a country and its capital share a key);
- number: dog/dogs, cat/cats, ...

A sentence about a word holds, in a random order, the word, two of its key's three context
words (drawn with replacement), one of its attribute's three context words and function words drawn from a Zipf law
(so subsampling has frequent words to thin). A word's contexts are thus key + attribute, and
vectors that learn them make ``king - man + woman`` land on ``queen``. The kata's evaluation
sets come with the corpus, in the real sets' formats: analogies within each family
(``a : b :: c : d`` when a, c share an attribute, b, d the other, a, b a key and c, d another)
and similarity pairs scored 8 (same key), 4 (same attribute and family), 2 (same family) or 0.
Deterministic by seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, permutations

import numpy as np

from deepkata.words.evaluate import Analogies, WordPairs

__all__ = ["FAMILIES", "GeneratedCorpus", "make_corpus"]

# family -> (attribute names, keys as one word per attribute)
FAMILIES: dict[str, tuple[tuple[str, str], list[tuple[str, str]]]] = {
    "gender": (("male", "female"), [("king", "queen"), ("prince", "princess"), ("man", "woman"), ("boy", "girl"), ("father", "mother"),
                                    ("son", "daughter"), ("brother", "sister"), ("uncle", "aunt"), ("husband", "wife"), ("lord", "lady")]),
    "capital": (("country", "capital"), [("france", "paris"), ("japan", "tokyo"), ("italy", "rome"), ("spain", "madrid"), ("germany", "berlin"),
                                        ("china", "beijing"), ("egypt", "cairo"), ("russia", "moscow"), ("greece", "athens"), ("peru", "lima")]),
    "number": (("one", "many"), [("dog", "dogs"), ("cat", "cats"), ("car", "cars"), ("tree", "trees"), ("house", "houses"),
                                 ("bird", "birds"), ("river", "rivers"), ("book", "books"), ("ship", "ships"), ("horse", "horses")]),
}  # fmt: skip
SECTIONS = {"gender": "family", "capital": "capital-world", "number": "gram-plural"}
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


@dataclass(frozen=True)
class GeneratedCorpus:
    sentences: list[list[str]]
    pairs: WordPairs
    analogies: Analogies
    source: str


def make_corpus(words: int = 200_000, *, seed: int = 0) -> GeneratedCorpus:
    """About ``words`` tokens of sentences about the families' words, with their evaluation sets."""
    rng = np.random.default_rng(seed)
    names = iter([str(w) for w in rng.permutation([a + b for a in SYLLABLES for b in SYLLABLES])])  # distinct pseudo-words
    content, key_context, attribute_context = [], {}, {}
    for family, (attributes, keys) in FAMILIES.items():
        for attribute in attributes:
            attribute_context[(family, attribute)] = [next(names) for _ in range(3)]
        for key, forms in enumerate(keys):
            key_context[(family, key)] = [next(names) for _ in range(3)]
            content += [(w, family, key, attributes[a]) for a, w in enumerate(forms)]
    function = [next(names) for _ in range(40)]
    zipf = 1.0 / np.arange(1, len(function) + 1)
    zipf /= zipf.sum()

    sentences, total = [], 0
    while total < words:
        w, family, key, attribute = content[rng.integers(len(content))]
        fillers = [function[i] for i in rng.choice(len(function), size=rng.integers(3, 7), p=zipf)]
        sentence = [w, *(key_context[(family, key)][i] for i in rng.integers(3, size=2)), attribute_context[(family, attribute)][rng.integers(3)], *fillers]
        sentences.append([sentence[i] for i in rng.permutation(len(sentence))])
        total += len(sentence)

    analogies: dict[str, list[tuple[str, str, str, str]]] = {}
    for family, (_, keys) in FAMILIES.items():  # named as Google's sections: "gram..." the syntactic one
        analogies[SECTIONS[family]] = [(k1[0], k1[1], k2[0], k2[1]) for k1, k2 in permutations(keys, 2)]
    pairs = []
    for (w1, f1, k1, a1), (w2, f2, k2, a2) in combinations(content, 2):
        score = 8.0 if (f1, k1) == (f2, k2) else 4.0 if (f1, a1) == (f2, a2) else 2.0 if f1 == f2 else 0.0
        pairs.append((w1, w2, score))
    picked = sorted(rng.choice(len(pairs), size=min(353, len(pairs)), replace=False).tolist())
    source = f"generated corpus ({total:,} words, {len(content)} content words in {len(FAMILIES)} families, seed {seed})"
    return GeneratedCorpus(sentences, WordPairs([pairs[i] for i in picked], source), Analogies(analogies, source), source)
