"""Token vocabularies with special tokens, built from training data and saved with the model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = (PAD, UNK, BOS, EOS)


@dataclass(frozen=True)
class Vocab:
    """Tokens by id; ids 0-3 are <pad>, <unk>, <s>, </s>."""

    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.tokens[: len(SPECIALS)] != SPECIALS:
            raise ValueError(f"a vocabulary starts with {SPECIALS}")
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("a vocabulary lists each token once")
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(self.tokens)})

    pad, unk, bos, eos = range(4)

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_freq: int = 1, max_size: int | None = None) -> Vocab:
        """Tokens seen at least ``min_freq`` times, most frequent first (ties alphabetical)."""
        counts = Counter(t for s in sentences for t in s)
        kept = sorted((t for t, c in counts.items() if c >= min_freq and t not in SPECIALS), key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[: max(0, max_size - len(SPECIALS))]
        return cls(SPECIALS + tuple(kept))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        index: dict[str, int] = self._index  # type: ignore[attr-defined]
        return [index.get(t, self.unk) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens up to the first </s>, without <s> and <pad>; unknown ids stay <unk>."""
        out = []
        for i in ids:
            if i == self.eos:
                break
            if i in (self.bos, self.pad):
                continue
            out.append(self.tokens[i])
        return out


def build_vocabs(pairs: Iterable[tuple[Sequence[str], Sequence[str]]], min_freq: int) -> tuple[Vocab, Vocab]:
    """The source and the target vocabulary of training ``pairs``."""
    pairs = list(pairs)
    return Vocab.build((s for s, _ in pairs), min_freq), Vocab.build((t for _, t in pairs), min_freq)
