"""``deepkata translate``: English to Japanese with a trained translate run's model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from deepkata.core import records
from deepkata.core.errors import UserError


def translate(
    run_dir: Annotated[Path, typer.Option("--run", metavar="RUN_DIR", help="A finished translate run folder.")],
    text: Annotated[list[str] | None, typer.Argument(metavar="TEXT", help="Sentences to translate; none: read stdin, a sentence a line.")] = None,
    greedy: Annotated[bool, typer.Option("--greedy", help="Greedy decoding instead of beam search.")] = False,
    beam: Annotated[int, typer.Option("--beam", min=1, metavar="N", help="Beam size.")] = 5,
    device: Annotated[str, typer.Option("--device", metavar="DEVICE", help="Where to decode: auto, cpu, cuda or cuda:N.")] = "auto",
) -> None:
    """Translate English sentences into Japanese, one line each.

    Words the model never saw in training are read as <unk>; the model still writes a whole
    sentence, so stderr lists them: a translation is only as good as its vocabulary.
    """
    # PyTorch and the model code load here, not when the deepkata command starts
    from deepkata.core.device import resolve
    from deepkata.nlp.decode import translate_ids
    from deepkata.nlp.tokenize import join_japanese, tokenize_english
    from deepkata.nlp.translator import load_translator

    path = run_dir / "translator.pt"
    if not (run_dir / records.CONFIG).is_file():
        raise UserError(f"{run_dir}: not a run folder (no {records.CONFIG})")
    if not path.is_file():
        raise UserError(f"{run_dir}: no translator.pt; only finished translate runs have one")
    translator = load_translator(path, resolve(device))
    src_vocab, tgt_vocab = translator.vocabs
    lines = text if text else [line for line in sys.stdin.read().splitlines() if line.strip()]
    if not lines:
        raise UserError("nothing to translate: give sentences as arguments or on stdin")
    tokenized = [tokenize_english(line) for line in lines]
    sources = [src_vocab.encode(tokens) for tokens in tokenized]
    unknown = sorted({t for tokens, ids in zip(tokenized, sources) for t, i in zip(tokens, ids) if i == src_vocab.unk})
    if unknown:
        print(f"deepkata translate: not in the model's vocabulary, read as <unk>: {' '.join(unknown)}", file=sys.stderr)
    outputs = translate_ids(translator.model, sources, method="greedy" if greedy else "beam", beam=beam)
    for ids in outputs:
        print(join_japanese(tgt_vocab.decode(ids)))
