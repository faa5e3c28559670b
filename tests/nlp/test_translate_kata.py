"""The translate and translate-compare katas, and `deepkata translate`, at toy scale."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from deepkata.core import runner
from deepkata.core.errors import UserError
from deepkata.core.registry import get_kata
from deepkata.nlp import corpus as corpus_mod
from deepkata.nlp import experiment
from deepkata.nlp.experiment import load_translator

TINY = ["corpus=toy", "toy_train=400", "dim=32", "heads=2", "layers=1", "ffn=64", "epochs=2", "max_tokens=512", "lr=0.003", "warmup=20", "beam=2"]


def run(tmp_path, name="translate", sets=(), **kwargs):
    kata = get_kata(name)
    cfg, overrides = runner.prepare(kata, "default", [*TINY, *sets])
    return runner.execute(kata, cfg, preset="default", seed=0, root=tmp_path, overrides=overrides, quiet=True, threads=1, **kwargs)


def test_translate_trains_scores_and_saves_a_translator(tmp_path, cli):
    res = run(tmp_path)
    m = res.result["metrics"]
    for split in ("dev", "test"):
        for method in ("greedy", "beam"):
            assert 0 <= m[f"{split}/bleu_{method}"] <= 100
    assert m["parameters"] > 0 and m["src_vocab"] > 4
    t = res.result["timings"]
    assert 0 < t["train_minutes"] < 60 and 0 <= t["dev_bleu_greedy_within_60_min"] <= 100 and t["threads"] == 1
    report = (res.dir / "report.md").read_text()
    assert "sacreBLEU signatures: BLEU `nrefs:1|case:mixed|eff:no|tok:none" in report
    assert "## Examples from the test set" in report
    assert "after 60 min the dev BLEU (greedy) was" in report
    model, vocabs, spec, source = load_translator(res.dir / "translator.pt")
    assert spec.kind == "transformer" and "toy" in source
    code, out, _ = cli("translate", "--run", str(res.dir), "I have three pens.", "they sold five cats .")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2 and all(" " not in line for line in lines)
    state = torch.load(res.dir / "translator.pt", weights_only=True)
    assert state["format"] == "deepkata-translator-1"


def test_with_test_off_the_test_split_is_never_decoded(tmp_path, monkeypatch):
    test_pairs = experiment.load_corpus("toy", None, 0, 400).test
    seen = []
    evaluate = experiment.evaluate

    def spy(model, vocabs, pairs, *args, **kwargs):
        seen.append(pairs)
        return evaluate(model, vocabs, pairs, *args, **kwargs)

    monkeypatch.setattr(experiment, "evaluate", spy)
    res = run(tmp_path, sets=["test=false"])
    assert seen and not any(p == test_pairs[: len(p)] for p in seen)  # dev after each epoch, dev beam, dev examples
    m = res.result["metrics"]
    assert "dev/bleu_beam" in m and not any(k.startswith("test/") for k in m)
    report = (res.dir / "report.md").read_text()
    assert "(test not decoded)" in report and "## Examples from the dev set" in report
    assert not next(e for e in res.result["expectations"] if "35" in e["description"])["met"]


def test_the_translate_command_refuses_other_runs(tmp_path, cli):
    code, _, err = cli("translate", "--run", str(tmp_path), "hello")
    assert code == 2 and "not a run folder" in err
    other = runner.execute(get_kata("binary-addition"), get_kata("binary-addition").preset_config("smoke"), preset="smoke", seed=0, root=tmp_path, quiet=True)
    code, _, err = cli("translate", "--run", str(other.dir), "hello")
    assert code == 2 and "no translator.pt" in err


def test_compare_trains_three_models_on_equal_terms(tmp_path):
    res = run(tmp_path, "translate-compare", ["epochs=1"])
    m = res.result["metrics"]
    for kind in ("gru", "gru-additive", "transformer"):
        assert 0 <= m[f"{kind}/test/bleu_beam"] <= 100 and m[f"{kind}/parameters"] > 0
    table = (res.dir / "comparison.csv").read_text()
    assert "GRU + additive attention" in table and "seconds per epoch" in table
    assert (res.dir / "dev_bleu.png").read_bytes()[:4] == b"\x89PNG"


def test_interrupted_training_resumes_to_the_same_scores(tmp_path, interrupt_at_checkpoint):
    whole = run(tmp_path / "whole", sets=["epochs=3"])
    interrupt_at_checkpoint(5)  # mid-way through the second epoch
    with pytest.raises(runner.Interrupted) as e:
        run(tmp_path / "cut", sets=["epochs=3"], checkpoint_interval=0)
    resumed = runner.resume(e.value.run_dir, quiet=True)
    assert resumed.result["metrics"] == whole.result["metrics"]


def test_the_real_corpus_is_looked_for_and_its_absence_explained(tmp_path, monkeypatch):
    kata = get_kata("translate")
    cfg = kata.preset_config("default")
    with pytest.raises(UserError, match=r"--data .*: missing train.en, train.ja"):
        runner.execute(kata, cfg, preset="default", seed=0, root=tmp_path / "runs", quiet=True, data=tmp_path)
    monkeypatch.setenv("DEEPKATA_DATA", str(tmp_path / "root"))
    offline = dataclasses.replace(corpus_mod.SMALL_PARALLEL_ENJA, base_url="http://127.0.0.1:9/")
    monkeypatch.setattr("deepkata.nlp.experiment.SMALL_PARALLEL_ENJA", offline)
    with pytest.raises(UserError, match=r"cannot download http://127.0.0.1:9/train.en .*put dev.en, dev.ja, test.en, test.ja, train.en, train.ja"):
        runner.execute(kata, cfg, preset="default", seed=0, root=tmp_path / "runs", quiet=True)
    assert not any((tmp_path / "runs" / "translate").iterdir())
    with pytest.raises(UserError, match="the toy corpus is generated"):
        run(tmp_path / "runs", data=tmp_path)
