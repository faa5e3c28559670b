"""Parallel corpora: the small_parallel_enja files, and a generated toy task that ships.

small_parallel_enja (Matsuzaki; odashi/small_parallel_enja on GitHub) holds 50,000 English-
Japanese sentence pairs of 4 to 16 words from the Tanaka corpus, pre-tokenized (English
lowercased; Japanese segmented by KyTea), one sentence a line: ``train``, ``dev`` (500) and
``test`` (500), ``.en`` and ``.ja``, line i of one the translation of line i of the other.

:func:`load_corpus` gives a kata its corpus by name: the generated toy task
(:mod:`deepkata.nlp.toy`) or small_parallel_enja, found under ``--data``, under
``$DEEPKATA_DATA`` or downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from deepkata.core.data import RemoteDataset, locate
from deepkata.core.errors import UserError
from deepkata.datasets.corpora import read_lines

Pair = tuple[list[str], list[str]]  # (source tokens, target tokens)
CorpusName = Literal["toy", "small_parallel_enja"]

SMALL_PARALLEL_ENJA = RemoteDataset(
    folder="small_parallel_enja",
    base_url="https://raw.githubusercontent.com/odashi/small_parallel_enja/312408a11c5fbcbc09443bebb18121f7efdcd61e/",
    files={
        "train.en": "148b05dcd28638fe20ee84f2b1127001c80982be352007dda241fb759adadc76",
        "train.ja": "fc81a1434349ec98a449d7ae9cd2530057f689637684ecfed3501ea6a8a07ecc",
        "dev.en": "04a2673449770657fd5e3b963cb856be3130923212b6db8ac7eaeef18f06c041",
        "dev.ja": "cd534f56b8639dc130f86a365e5ec0aa70042000bdd740a622fbbf8b6be4acca",
        "test.en": "45edb380749ec2b49cca7618fc5a7595fc9f791180672ba466b90c873a4aa8bf",
        "test.ja": "d37dc460a81b064e4106c8913eb11fa300da05cf3f58a7a5bbfec7e20947ddef",
    },
    description="small_parallel_enja: train, dev and test, .en and .ja",
)


@dataclass(frozen=True)
class Corpus:
    train: list[Pair]
    dev: list[Pair]
    test: list[Pair]
    source: str  # where it came from
    src_lang: str = "en"
    tgt_lang: str = "ja"


def read_split(folder: Path, split: str, src: str = "en", tgt: str = "ja") -> list[Pair]:
    """The pairs of one split; both files must have the same number of lines, none empty."""
    src_path, tgt_path = folder / f"{split}.{src}", folder / f"{split}.{tgt}"
    src_lines, tgt_lines = read_lines(src_path), read_lines(tgt_path)
    if len(src_lines) != len(tgt_lines):
        raise UserError(f"{src_path} has {len(src_lines)} lines but {tgt_path} has {len(tgt_lines)}; they must pair up")
    pairs = []
    for i, (s, t) in enumerate(zip(src_lines, tgt_lines), start=1):
        for path, line in ((src_path, s), (tgt_path, t)):
            if not line.strip():
                raise UserError(f"{path}: line {i}: empty line, expected a tokenized sentence")
        pairs.append((s.split(), t.split()))
    return pairs


def read_corpus(folder: Path) -> Corpus:
    return Corpus(*(read_split(folder, split) for split in ("train", "dev", "test")), source=str(folder))


def load_corpus(name: CorpusName, data: Path | None, seed: int, toy_train: int) -> Corpus:
    """The corpus ``name``: the toy task generated from ``seed`` with ``toy_train`` training pairs,
    or small_parallel_enja from ``data`` (None: looked for, or downloaded)."""
    from deepkata.nlp.toy import toy_corpus  # toy builds on this module's Corpus

    if name == "toy":
        if data is not None:
            raise UserError("the toy corpus is generated; --data applies to corpus=small_parallel_enja")
        return toy_corpus(seed, train=toy_train)
    return read_corpus(locate(SMALL_PARALLEL_ENJA, data))
