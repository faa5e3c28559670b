"""``deepkata words``: ask a finished word-vectors run for neighbours and analogies."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated

import typer

from deepkata.core import records
from deepkata.core.errors import UserError


def words(
    run_dir: Annotated[Path, typer.Option("--run", metavar="RUN_DIR", help="A finished word-vectors run folder.")],
    query: Annotated[list[str], typer.Argument(metavar="QUERY", help="'neighbours WORD...' or 'analogy A - B + C' (the words nearest A - B + C: B is to A as C is to ?).")],
    model: Annotated[str, typer.Option("--model", metavar="MODEL", help="Whose vectors: count, cbow or skip-gram (default: the first the run saved).")] = "",
    top: Annotated[int, typer.Option("--top", min=1, metavar="N", help="Words listed per answer.")] = 10,
) -> None:
    """Nearest neighbours of words, or the answers of an analogy, by cosine.

    ``neighbours king queen`` lists each word's nearest words; ``analogy king - man + woman``
    lists the words nearest to king - man + woman (the question words left out), as 3CosAdd
    answers "man is to king as woman is to ?".
    """
    import numpy as np  # loaded here, not when the deepkata command starts

    from deepkata.words.evaluate import nearest, unit_rows

    path = run_dir / "vectors.npz"
    if not (run_dir / records.CONFIG).is_file():
        raise UserError(f"{run_dir}: not a run folder (no {records.CONFIG})")
    if not path.is_file():
        raise UserError(f"{run_dir}: no vectors.npz; only finished word-vectors runs have one")
    with np.load(path, allow_pickle=False) as saved:
        vocabulary = [str(w) for w in saved["words"]]
        models = [k for k in saved.files if k not in ("words", "counts")]
        key = model.replace("-", "_") if model else models[0]
        if key not in models:
            raise UserError(f"--model {model!r}: this run saved {', '.join(m.replace('_', '-') for m in models)}")
        vectors = saved[key]
    index = {w: i for i, w in enumerate(vocabulary)}

    def row(word: str) -> int:
        if word not in index:
            hints = difflib.get_close_matches(word, vocabulary, n=3, cutoff=0.6)
            hint = f"; closest known: {', '.join(hints)}" if hints else ""
            raise UserError(f"{word!r} is not in the vocabulary of {run_dir} ({len(vocabulary):,} words){hint}")
        return index[word]

    if not query:
        raise UserError("give a query: 'neighbours WORD...' or 'analogy A - B + C'")
    action, rest = query[0], query[1:]
    if action in ("neighbours", "neighbors"):
        if not rest:
            raise UserError("neighbours: give at least one word")
        for word in rest:
            found = nearest(vectors, row(word), top)
            print(f"{word}: " + ", ".join(f"{vocabulary[i]} ({s:.3f})" for i, s in found))
        return
    if action == "analogy":
        if len(rest) != 5 or rest[1] != "-" or rest[3] != "+":
            raise UserError(f"analogy: expected 'A - B + C' (e.g. king - man + woman), got {' '.join(rest)!r}")
        a, b, c = row(rest[0]), row(rest[2]), row(rest[4])
        unit = unit_rows(vectors)
        found = nearest(vectors, unit[a] - unit[b] + unit[c], top, exclude=(a, b, c))
        print(f"{rest[0]} - {rest[2]} + {rest[4]}: " + ", ".join(f"{vocabulary[i]} ({s:.3f})" for i, s in found))
        return
    raise UserError(f"unknown query {action!r}: expected 'neighbours WORD...' or 'analogy A - B + C'")
