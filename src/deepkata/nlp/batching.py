"""Padded minibatches of sentence pairs, bucketed by length so little of each batch is padding.

A batch holds, for B pairs with longest source S and longest target T (</s> included):

    src      (B, S)    source ids, <pad>-filled
    tgt_in   (B, T)    <s> y_1 .. y_n          the decoder's input (teacher forcing)
    tgt_out  (B, T)    y_1 .. y_n </s>         what it must predict, <pad> ignored by the loss
    src_pad  (B, S)    True where src is padding

Batches are made on the CPU from id lists; :meth:`Batch.to` sends one to the model's device.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from deepkata.nlp.vocab import Vocab


@dataclass(frozen=True)
class Batch:
    src: torch.Tensor
    tgt_in: torch.Tensor
    tgt_out: torch.Tensor

    @property
    def src_pad(self) -> torch.Tensor:
        return self.src == Vocab.pad

    @property
    def target_tokens(self) -> int:
        return int((self.tgt_out != Vocab.pad).sum())

    def to(self, device: torch.device) -> Batch:
        return Batch(self.src.to(device), self.tgt_in.to(device), self.tgt_out.to(device))


def pad(rows: Sequence[Sequence[int]]) -> torch.Tensor:
    """Rows of ids as one CPU tensor (len(rows), longest), <pad>-filled at the end."""
    longest = max(len(r) for r in rows)
    return torch.tensor([[*r, *[Vocab.pad] * (longest - len(r))] for r in rows], dtype=torch.long, device="cpu")


def make_batch(src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]]) -> Batch:
    return Batch(pad(src), pad([[Vocab.bos, *t] for t in tgt]), pad([[*t, Vocab.eos] for t in tgt]))


def batches(
    src: Sequence[Sequence[int]],
    tgt: Sequence[Sequence[int]],
    max_tokens: int,
    generator: torch.Generator | None = None,
) -> Iterator[Batch]:
    """Batches of at most ``max_tokens`` padded target tokens, pairs of similar length together.

    With a generator, pairs are shuffled, sorted by length within chunks of 100 batches' worth,
    cut into batches, and the batches shuffled; without, they come in length order.
    """
    n = len(src)
    if generator is not None:
        order = torch.randperm(n, generator=generator, device="cpu").tolist()
        chunk = max(1, 100 * max_tokens // 20)
        order = [i for k in range(0, n, chunk) for i in sorted(order[k : k + chunk], key=lambda i: (len(tgt[i]), len(src[i])))]
    else:
        order = sorted(range(n), key=lambda i: (len(tgt[i]), len(src[i])))
    groups: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        longest_if = max(longest, len(tgt[i]) + 1)
        if current and longest_if * (len(current) + 1) > max_tokens:
            groups.append(current)
            current, longest_if = [], len(tgt[i]) + 1
        current.append(i)
        longest = longest_if
    if current:
        groups.append(current)
    if generator is not None:
        groups = [groups[j] for j in torch.randperm(len(groups), generator=generator, device="cpu").tolist()]
    for g in groups:
        yield make_batch([src[i] for i in g], [tgt[i] for i in g])
