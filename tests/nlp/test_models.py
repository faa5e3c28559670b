"""The translation models in the registry, their configs, and the kata's sections of them."""

from __future__ import annotations

import pytest

from deepkata.core import runner
from deepkata.core.errors import ConfigError, UserError
from deepkata.core.registry import get_kata
from deepkata.models.attention import AdditiveAttention, DotAttention
from deepkata.models.registry import build_model, get_model, list_models
from deepkata.nlp.seq2seq import Seq2Seq, Seq2SeqConfig
from deepkata.nlp.transformer import Transformer, TransformerConfig
from deepkata.nlp.vocab import Vocab

SIZES = {"src_vocab": 11, "tgt_vocab": 13}


def test_the_attention_variant_is_the_models_name():
    assert list_models("nlp") == ["gru", "gru-additive", "gru-dot", "transformer"]
    attention = {name: build_model(name, **SIZES, emb=8, hidden=8).attn for name in ("gru", "gru-additive", "gru-dot")}
    assert attention["gru"] is None
    assert isinstance(attention["gru-additive"], AdditiveAttention) and isinstance(attention["gru-dot"], DotAttention)
    model = build_model("transformer", **SIZES, dim=16, heads=2)
    assert isinstance(model, Transformer) and model.out.weight.shape == (13, 16) and model.src_embed.weight.shape == (11, 16)
    for name in ("gru", "gru-additive", "gru-dot"):
        assert get_model(name).config is Seq2SeqConfig and get_model(name).example == {"src_vocab": 8000, "tgt_vocab": 8000}


def test_a_model_refuses_to_be_built_without_its_vocabulary_sizes():
    with pytest.raises(ConfigError, match="src_vocab and tgt_vocab"):
        build_model("transformer", tgt_vocab=5)
    with pytest.raises(ConfigError, match="src_vocab and tgt_vocab"):
        Seq2Seq(Seq2SeqConfig(src_vocab=5))
    with pytest.raises(ConfigError, match="dim 30 must be divisible by heads 4"):
        TransformerConfig(dim=30, heads=4)
    with pytest.raises(TypeError):
        TransformerConfig(11, 13)  # by keyword only


def test_the_kata_nests_the_model_configs():
    kata = get_kata("translate")
    cfg, overrides = runner.prepare(kata, "smoke", ["transformer.dim=512", "gru.hidden=512", "model=gru-additive", "epochs=2"])
    assert (cfg.transformer.dim, cfg.transformer.layers, cfg.gru.emb, cfg.gru.hidden, cfg.model, cfg.epochs) == (512, 2, 64, 512, "gru-additive", 2)
    assert overrides == {"transformer.dim": 512, "gru.hidden": 512, "model": "gru-additive", "epochs": 2}
    default = kata.preset_config("default")
    assert (default.transformer, default.gru) == (TransformerConfig(), Seq2SeqConfig())
    with pytest.raises(UserError, match="dim"):
        runner.prepare(kata, "smoke", ["dim=64"])  # the flat field is gone
    with pytest.raises(ConfigError, match="transformer.src_vocab: set from the training corpus"):
        runner.prepare(kata, "smoke", ["transformer.src_vocab=100"])


def test_each_model_takes_its_section_with_the_corpus_vocabularies():
    cfg = get_kata("translate-compare").preset_config("smoke")
    vocabs = (Vocab.build([["a", "b"]]), Vocab.build([["c"]]))
    assert cfg.model_config("gru-dot", vocabs) == Seq2SeqConfig(src_vocab=6, tgt_vocab=5, emb=64, hidden=64)
    assert cfg.model_config("transformer", vocabs) == TransformerConfig(src_vocab=6, tgt_vocab=5, dim=64, layers=2, ffn=128)
