"""Corpora, the toy task, vocabularies, batches, tokenizing and BLEU."""

from __future__ import annotations

import pytest
import torch

from deepkata.core.errors import UserError
from deepkata.nlp.batching import batches, make_batch
from deepkata.nlp.bleu import score
from deepkata.nlp.corpus import read_corpus, read_split
from deepkata.nlp.tokenize import join_japanese, tokenize_english
from deepkata.nlp.toy import number_words, toy_corpus
from deepkata.nlp.vocab import Vocab


def write_corpus(folder, n=3):
    for split in ("train", "dev", "test"):
        (folder / f"{split}.en").write_text("".join(f"i have {k} pens .\n" for k in range(n)), encoding="utf-8")
        (folder / f"{split}.ja").write_text("".join(f"ペン を {k} 本 持 っ て い る 。\n" for k in range(n)), encoding="utf-8")


def test_reading_a_corpus_and_its_errors(tmp_path):
    write_corpus(tmp_path)
    c = read_corpus(tmp_path)
    assert c.train[1] == (["i", "have", "1", "pens", "."], ["ペン", "を", "1", "本", "持", "っ", "て", "い", "る", "。"])
    (tmp_path / "dev.ja").write_text("a\nb\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"dev.en has 3 lines but .*dev.ja has 2; they must pair up"):
        read_split(tmp_path, "dev")
    (tmp_path / "dev.ja").write_text("a\n\nb\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"dev.ja: line 2: empty line"):
        read_split(tmp_path, "dev")
    (tmp_path / "dev.ja").write_bytes(b"\xff\xfe\n\n\n")
    with pytest.raises(UserError, match="dev.ja: byte 0: not UTF-8"):
        read_split(tmp_path, "dev")


@pytest.mark.parametrize("n, words", [(1, "one"), (13, "thirteen"), (40, "forty"), (105, "one hundred five"), (999, "nine hundred ninety nine")])
def test_number_words(n, words):
    assert " ".join(number_words(n)) == words


def test_the_toy_task_is_disjoint_reproducible_and_reorders():
    c = toy_corpus(0, train=500, dev=50, test=50)
    sources = [tuple(s) for s, _ in c.train + c.dev + c.test]
    assert len(set(sources)) == 600
    assert toy_corpus(0, train=500, dev=50, test=50).train == c.train
    for src, tgt in c.train[:50]:
        assert tgt[-1] == "。" and src[-1] == "."
        digits = [t for t in tgt if t.isdigit()]
        words = src[2:-2]
        assert int("".join(digits)) == _value(words)


def _value(words):
    ones = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
    tens = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
    total = 0
    for w in words:
        total = total * 100 if w == "hundred" else total + (ones.index(w) if w in ones else 10 * tens.index(w))
    return total


def test_vocab_specials_frequency_and_roundtrip():
    v = Vocab.build([["b", "a", "a"], ["c", "a", "b"]], min_freq=2)
    assert v.tokens == ("<pad>", "<unk>", "<s>", "</s>", "a", "b")
    assert v.encode(["a", "c", "b"]) == [4, 1, 5]
    assert v.decode([2, 4, 1, 3, 5]) == ["a", "<unk>"]
    with pytest.raises(ValueError, match="starts with"):
        Vocab(("a", "<pad>", "<unk>", "<s>", "</s>"))


def test_batches_respect_the_token_budget_and_cover_every_pair():
    src = [[5] * (1 + k % 7) for k in range(100)]
    tgt = [[6] * (1 + k % 9) for k in range(100)]
    seen = 0
    for b in batches(src, tgt, max_tokens=60, generator=torch.Generator().manual_seed(0)):
        assert b.tgt_out.numel() <= 60 or b.tgt_out.shape[0] == 1
        assert (b.tgt_in[:, 0] == Vocab.bos).all()
        lengths = (b.tgt_out != Vocab.pad).sum(1)
        assert (b.tgt_out[torch.arange(len(lengths)), lengths - 1] == Vocab.eos).all()
        seen += b.src.shape[0]
    assert seen == 100
    b = make_batch([[7, 8], [9]], [[10], [11, 12]])
    assert b.src.tolist() == [[7, 8], [9, 0]] and b.src_pad.tolist() == [[False, False], [False, True]]
    assert b.tgt_in.tolist() == [[2, 10, 0], [2, 11, 12]] and b.tgt_out.tolist() == [[10, 3, 0], [11, 12, 3]]
    assert b.target_tokens == 5


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("I have a pen.", "i have a pen ."),
        ("I can't tell who'll arrive first.", "i can 't tell who 'll arrive first ."),
        ("Don't do that, Tom's here!", "don 't do that , tom 's here !"),
    ],
)
def test_tokenizing_like_the_corpus(text, tokens):
    assert " ".join(tokenize_english(text)) == tokens
    assert join_japanese(["私", "は", "ペン"]) == "私はペン"


def test_bleu_is_sacrebleus_on_the_tokens_and_unk_never_matches():
    import sacrebleu

    hyps = [["私", "は", "ペン", "を", "持", "つ"], ["猫", "が", "い", "る"]]
    refs = ["私 は ペン を 持 っ て い る 。", "猫 が い る 。"]
    s = score(hyps, refs)
    expected = sacrebleu.corpus_bleu([" ".join(h) for h in hyps], [refs], tokenize="none")
    assert s.bleu == pytest.approx(expected.score)
    assert "tok:none" in s.bleu_signature
    with_unk = score([["<unk>", "が", "い", "る"]], ["<unk> が い る"])
    assert with_unk.bleu < 100
    assert score([["猫", "が", "い", "る"]], ["猫 が い る"]).bleu == pytest.approx(100)


def test_bleu_on_detokenized_japanese_is_sacrebleus_ja_mecab_and_unk_is_counted():
    import sacrebleu

    hyps = [["私", "は", "ペン", "を", "持", "つ"], ["猫", "が", "<unk>", "る"]]
    refs = ["私 は ペン を 持 っ て い る 。", "猫 が い る 。"]
    s = score(hyps, refs, "ja")
    expected = sacrebleu.corpus_bleu(["私はペンを持つ", "猫が\u2047る"], [["私はペンを持っている。", "猫がいる。"]], tokenize="ja-mecab")
    assert s.bleu_detok == pytest.approx(expected.score) and 0 < s.bleu_detok < 100
    assert s.bleu_detok != pytest.approx(s.bleu)  # MeCab's words are not the corpus's tokens
    assert "tok:ja-mecab" in s.bleu_detok_signature
    assert s.unk == 1
    assert score([["<unk>"]], ["<unk>"], "ja").bleu_detok == 0  # a <unk> never matches, detokenized either
    assert score([hyps[0]], ["私 は ペン を 持 つ"], "ja").bleu_detok == pytest.approx(100)
    plain = score(hyps, refs)
    assert plain.bleu_detok is None and plain.bleu_detok_signature is None and plain.bleu == s.bleu
