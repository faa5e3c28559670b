"""Plain-text corpora for word vectors and language models: Penn Treebank and WikiText-2.

Both are read as the researchers who published them tokenized them: words split on spaces, one
sentence (PTB) or paragraph (WikiText) a line.

- **PTB** (Mikolov's language-modelling version, the corpus of deep-learning-from-scratch-2):
  ``ptb.{train,valid,test}.txt``, 929k/73k/82k words, a 10k vocabulary, rare words as ``<unk>``
  and numbers as ``N``; every line one sentence.
- **WikiText-2** (Merity et al., 2016, tokenized v1): ``wiki.{train,valid,test}.tokens``,
  2.1M/218k/246k tokens; blank lines and the ``= Heading =`` lines are left out, every other
  line (a paragraph) one sentence.

Pass the folder that holds the files (``$DEEPKATA_DATA/ptb`` or ``$DEEPKATA_DATA/wikitext-2``);
a missing or empty file is a one-line error naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from deepkata.core.errors import UserError

__all__ = ["CORPORA", "CorpusName", "Sentences", "detect_corpus", "read_corpus_split", "read_lines"]

CorpusName = Literal["ptb", "wikitext-2"]
SPLITS = ("train", "valid", "test")
# each corpus: the file of a split
CORPORA: dict[str, str] = {"ptb": "ptb.{split}.txt", "wikitext-2": "wiki.{split}.tokens"}


@dataclass(frozen=True)
class Sentences:
    """Tokenized sentences of one split, and where they came from."""

    sentences: list[list[str]]
    source: str

    @property
    def words(self) -> int:
        return sum(len(s) for s in self.sentences)


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file; a missing or undecodable file is a one-line error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: byte {e.start}: not UTF-8 text") from None
    return text.splitlines()


def detect_corpus(folder: Path) -> CorpusName:
    """Which corpus a folder holds, by its training file; a one-line error if neither."""
    for name, pattern in CORPORA.items():
        if (folder / pattern.format(split="train")).is_file():
            return name  # type: ignore[return-value]
    expected = " or ".join(pattern.format(split="train") for pattern in CORPORA.values())
    raise UserError(f"{folder}: no text corpus here (expected {expected})")


def read_corpus_split(folder: Path, split: str, name: CorpusName | None = None) -> Sentences:
    """The sentences of ``split`` (train, valid or test) of the corpus in ``folder``."""
    if split not in SPLITS:
        raise UserError(f"split {split!r}: expected one of {', '.join(SPLITS)}")
    name = name or detect_corpus(folder)
    path = folder / CORPORA[name].format(split=split)
    sentences = []
    for line in read_lines(path):
        stripped = line.strip()
        if not stripped or (name == "wikitext-2" and stripped.startswith("= ") and stripped.endswith(" =")):
            continue
        sentences.append(stripped.split())
    if not sentences:
        raise UserError(f"{path}: no sentences (expected one sentence a line)")
    return Sentences(sentences, f"{name} {split} ({path})")
