"""The saved translator: a trained model with its vocabularies, ``translator.pt`` in a run folder.

Format 2 (``deepkata-translator-2``) keeps the model's registry name and its config as a dict,
so it is rebuilt by name (:func:`deepkata.models.build_model`). Format 1 kept a ``spec`` of the
old kata fields; it still loads, mapped onto the configs: ``kind`` is the name, ``dim`` the
Transformer's width or the GRU's embedding and hidden size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deepkata.core import checkpoint
from deepkata.core import config as config_mod
from deepkata.core.config import Config
from deepkata.core.errors import UserError
from deepkata.models.registry import build_model
from deepkata.nlp.vocab import Vocab

FORMAT = "deepkata-translator-2"
FORMAT_1 = "deepkata-translator-1"


@dataclass(frozen=True)
class Translator:
    name: str  # the model's registry name
    model: nn.Module  # in eval mode
    vocabs: tuple[Vocab, Vocab]  # source, target
    corpus: str  # what it was trained on


def save_translator(path: Path, name: str, cfg: Config, weights: Mapping[str, torch.Tensor], vocabs: tuple[Vocab, Vocab], corpus: str) -> None:
    """Write the model ``name`` built from ``cfg`` with ``weights``, and its vocabularies."""
    checkpoint.save(
        path,
        {"format": FORMAT, "name": name, "config": config_mod.to_dict(cfg), "model": dict(weights),
         "src_vocab": list(vocabs[0].tokens), "tgt_vocab": list(vocabs[1].tokens), "corpus": corpus},  # fmt: skip
    )


def load_translator(path: Path, device: torch.device = torch.device("cpu")) -> Translator:
    """The translator saved at ``path`` (format 2 or 1), its model on ``device``."""
    state = checkpoint.load(path)  # weights_only=True
    if state.get("format") not in (FORMAT, FORMAT_1):
        raise UserError(f"{path}: not a deepkata translator")
    vocabs = (Vocab(tuple(state["src_vocab"])), Vocab(tuple(state["tgt_vocab"])))
    name, fields = (state["name"], state["config"]) if state["format"] == FORMAT else _from_format_1(state["spec"], vocabs)
    model = build_model(name, **fields)
    model.load_state_dict(state["model"])
    return Translator(name, model.to(device).eval(), vocabs, state["corpus"])


def _from_format_1(spec: Mapping[str, Any], vocabs: tuple[Vocab, Vocab]) -> tuple[str, dict[str, Any]]:
    """Format 1's spec (kind, dim, heads, layers, ffn, dropout, norm_first, tie_embeddings) as
    a registry name and its config's fields."""
    sizes = {"src_vocab": len(vocabs[0]), "tgt_vocab": len(vocabs[1])}
    if spec["kind"] == "transformer":
        keys = ("dim", "heads", "layers", "ffn", "dropout", "norm_first", "tie_embeddings")
        return "transformer", sizes | {k: spec[k] for k in keys}
    return spec["kind"], sizes | {"emb": spec["dim"], "hidden": spec["dim"], "dropout": spec["dropout"]}
