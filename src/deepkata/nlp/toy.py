"""A generated English-to-Japanese task, so every translation preset runs with no download.

    i have twenty three pens .        ->  私 は ペン を 2 3 本 持 っ て い る 。
    they bought one hundred five cats .  ->  彼 ら は 猫 を 1 0 5 匹 買 っ た 。

What the model has to learn is what makes translation hard in miniature: word order (the verb
moves to the end, the number after its noun), agreement (the counter word — 本, 個, 匹, 冊, 台 —
depends on the noun, the particle on the verb), and reading English number words as digits,
zeros included. The target is tokenized like the real corpus: characters of verbs split as
KyTea splits them.
"""

from __future__ import annotations

import numpy as np

from deepkata.nlp.corpus import Corpus, Pair

SUBJECTS = {"i": "私", "you": "あなた", "he": "彼", "she": "彼女", "we": "私 たち", "they": "彼 ら"}
VERBS = {  # English, Japanese, particle before it
    "have": ("持 っ て い る", "を"),
    "bought": ("買 っ た", "を"),
    "saw": ("見 た", "を"),
    "want": ("欲し い", "が"),
    "sold": ("売 っ た", "を"),
}
NOUNS = {  # singular, plural, Japanese, counter
    "pen": ("pens", "ペン", "本"),
    "apple": ("apples", "りんご", "個"),
    "cat": ("cats", "猫", "匹"),
    "dog": ("dogs", "犬", "匹"),
    "book": ("books", "本", "冊"),
    "car": ("cars", "車", "台"),
    "egg": ("eggs", "卵", "個"),
}
ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> list[str]:
    """English words for 1 <= n <= 999."""
    if not 1 <= n <= 999:
        raise ValueError(f"numbers from 1 to 999, got {n}")
    words = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [ONES[hundreds], "hundred"]
    if rest >= 20:
        words.append(TENS[rest // 10])
        if rest % 10:
            words.append(ONES[rest % 10])
    elif rest:
        words.append(ONES[rest])
    return words


def sentence(rng: np.random.Generator) -> Pair:
    subject = str(rng.choice(list(SUBJECTS)))
    verb = str(rng.choice(list(VERBS)))
    noun = str(rng.choice(list(NOUNS)))
    # small numbers are common, large ones rarer: a third each below 10, below 100, up to 999
    n = int(rng.integers(1, (10, 100, 1000)[int(rng.integers(0, 3))]))
    plural, ja_noun, counter = NOUNS[noun]
    ja_verb, particle = VERBS[verb]
    src = [subject, verb, *number_words(n), noun if n == 1 else plural, "."]
    tgt = [*SUBJECTS[subject].split(), "は", ja_noun, particle, *str(n), counter, *ja_verb.split(), "。"]
    return src, tgt


def toy_corpus(seed: int, train: int = 4000, dev: int = 200, test: int = 200) -> Corpus:
    """Disjoint train, dev and test sentences, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    seen: set[tuple[str, ...]] = set()
    splits: list[list[Pair]] = []
    for size in (train, dev, test):
        pairs: list[Pair] = []
        while len(pairs) < size:
            src, tgt = sentence(rng)
            if tuple(src) not in seen:
                seen.add(tuple(src))
                pairs.append((src, tgt))
        splits.append(pairs)
    return Corpus(*splits, source=f"generated toy English-to-Japanese task (seed {seed})")
