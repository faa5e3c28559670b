"""Tokenizing what a user types the way small_parallel_enja's English side is tokenized.

The corpus is lowercased with punctuation standing alone and contractions split before the
apostrophe: "i 'm", "tom 's", "we 'll", and for negations "don 't", "can 't", "won 't". This
regex version reproduces those rules for ordinary sentences; it is not the Stanford tokenizer
the corpus was made with.
"""

from __future__ import annotations

import re

_PUNCT = re.compile(r"([.,!?;:\"()])")
_CLITIC = re.compile(r"(\w)('(?:m|s|re|ve|ll|d|t))\b")  # i'm -> i 'm, can't -> can 't


def tokenize_english(text: str) -> list[str]:
    text = text.lower().replace("\u2019", "'")
    text = _CLITIC.sub(r"\1 \2", text)
    return _PUNCT.sub(r" \1 ", text).split()


def join_japanese(tokens: list[str]) -> str:
    """Japanese is written without spaces."""
    return "".join(tokens)
