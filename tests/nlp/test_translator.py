"""translator.pt: saved and loaded by registry name, and the first format still read."""

from __future__ import annotations

import pytest
import torch

from deepkata.core import checkpoint
from deepkata.core.errors import UserError
from deepkata.models.registry import build_model
from deepkata.nlp.batching import make_batch
from deepkata.nlp.seq2seq import Seq2SeqConfig
from deepkata.nlp.translator import load_translator, save_translator
from deepkata.nlp.vocab import SPECIALS, Vocab

VOCABS = (Vocab(SPECIALS + tuple("abcdefg")), Vocab(SPECIALS + tuple("hijklm")))
BATCH = make_batch([[4, 5, 6], [7, 8]], [[4, 5], [6, 7, 8]])


def same_outputs(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return torch.equal(a.eval()(BATCH.src, BATCH.src_pad, BATCH.tgt_in), b.eval()(BATCH.src, BATCH.src_pad, BATCH.tgt_in))


def test_a_translator_comes_back_by_its_name(tmp_path):
    cfg = Seq2SeqConfig(src_vocab=11, tgt_vocab=10, emb=8, hidden=6)
    model = build_model("gru-dot", src_vocab=11, tgt_vocab=10, emb=8, hidden=6)
    save_translator(tmp_path / "t.pt", "gru-dot", cfg, model.state_dict(), VOCABS, "toy")
    back = load_translator(tmp_path / "t.pt")
    assert (back.name, back.vocabs, back.corpus, back.model.cfg) == ("gru-dot", VOCABS, "toy", cfg)
    assert not back.model.training and same_outputs(model, back.model)


@pytest.mark.parametrize(
    "spec, name, sizes",
    [
        ({"kind": "transformer", "dim": 16, "heads": 2, "layers": 1, "ffn": 32, "dropout": 0.1, "norm_first": True, "tie_embeddings": False},
         "transformer", {"dim": 16, "heads": 2, "layers": 1, "ffn": 32, "norm_first": True, "tie_embeddings": False}),
        ({"kind": "gru-additive", "dim": 8, "heads": 4, "layers": 3, "ffn": 1024, "dropout": 0.2, "norm_first": False, "tie_embeddings": True},
         "gru-additive", {"emb": 8, "hidden": 8, "dropout": 0.2}),
    ],
)  # fmt: skip
def test_the_first_format_maps_its_spec_onto_the_configs(tmp_path, spec, name, sizes):
    model = build_model(name, src_vocab=11, tgt_vocab=10, **sizes)
    checkpoint.save(tmp_path / "t.pt", {"format": "deepkata-translator-1", "spec": spec, "model": model.state_dict(),
                                        "src_vocab": list(VOCABS[0].tokens), "tgt_vocab": list(VOCABS[1].tokens), "corpus": "toy"})  # fmt: skip
    back = load_translator(tmp_path / "t.pt")
    assert back.name == name and back.model.cfg == model.cfg and same_outputs(model, back.model)


def test_other_files_are_refused(tmp_path):
    checkpoint.save(tmp_path / "t.pt", {"format": "deepkata-engine-1"})
    with pytest.raises(UserError, match="not a deepkata translator"):
        load_translator(tmp_path / "t.pt")
