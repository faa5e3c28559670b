"""The translate and translate-compare katas, and `deepkata translate`, at toy scale."""

from __future__ import annotations

import csv
import dataclasses
import json

import pytest
import sacrebleu
import torch

from deepkata.core import checkpoint, runner
from deepkata.core.errors import UserError
from deepkata.core.registry import get_kata
from deepkata.models.registry import count_parameters
from deepkata.nlp import corpus as corpus_mod
from deepkata.nlp import job as job_mod
from deepkata.nlp.bleu import UNMATCHABLE
from deepkata.nlp.corpus import Pair
from deepkata.nlp.decode import translate_ids
from deepkata.nlp.katas import translate as kata_mod
from deepkata.nlp.tokenize import join_japanese, tokenize_english
from deepkata.nlp.toy import toy_corpus
from deepkata.nlp.translator import load_translator
from deepkata.nlp.vocab import UNK, build_vocabs
from tests.conftest import resume_run, run_kata

TINY = [
    "corpus=toy", "toy_train=400", "transformer.dim=32", "transformer.heads=2", "transformer.layers=1", "transformer.ffn=64",
    "gru.emb=32", "gru.hidden=32", "epochs=2", "max_tokens=512", "lr=0.003", "warmup=20", "beam=2",
    "average=1",  # the default preset's averaging has tests of its own
]  # fmt: skip
CORPUS = toy_corpus(0, train=400)  # what corpus=toy, toy_train=400 and seed 0 train on


def tiny_run(tmp_path, kata="translate", sets=(), **kwargs):
    return run_kata(kata, tmp_path, preset="default", sets=[*TINY, *sets], threads=1, **kwargs)


def logged(run_dir, timed: bool = True) -> list[dict]:
    """The run's ``metrics.jsonl``; without its seconds (which differ run to run) unless ``timed``."""
    entries = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return entries if timed else [{k: v for k, v in e.items() if k != "train/seconds"} for e in entries]


def sacrebleu_of(hyps: list[list[str]], pairs: list[Pair]) -> tuple[float, str]:
    """sacreBLEU on the corpus tokens, a hypothesis's <unk> matching nothing (see nlp/bleu.py),
    and its signature."""
    lines = [" ".join(UNMATCHABLE if t == UNK else t for t in h) for h in hyps]
    bleu = sacrebleu.BLEU(tokenize="none")
    return bleu.corpus_score(lines, [[" ".join(t) for _, t in pairs]]).score, str(bleu.get_signature())


def test_translate_reports_the_scores_of_the_translator_it_saves(tmp_path, cli):
    res = tiny_run(tmp_path)
    m = res.result["metrics"]
    translator = load_translator(res.dir / "translator.pt")
    model, (src_vocab, tgt_vocab) = translator.model, translator.vocabs
    assert translator.name == "transformer" and translator.corpus == CORPUS.source
    assert (model.cfg.dim, model.cfg.heads, model.cfg.layers, model.cfg.ffn) == (32, 2, 1, 64)
    assert translator.vocabs == build_vocabs(CORPUS.train, 2)
    assert (m["src_vocab"], m["tgt_vocab"], m["parameters"]) == (len(src_vocab), len(tgt_vocab), count_parameters(model))
    hyps = {}
    for split in ("dev", "test"):
        pairs = getattr(CORPUS, split)
        for method in ("greedy", "beam"):
            ids = translate_ids(model, [src_vocab.encode(s) for s, _ in pairs], method=method, beam=2, alpha=0.6)
            hyps[split, method] = [tgt_vocab.decode(h) for h in ids]
            bleu, signature = sacrebleu_of(hyps[split, method], pairs)
            assert m[f"{split}/bleu_{method}"] == bleu, (split, method)
    # the translator holds the best dev epoch's weights: their greedy dev BLEU is the one logged then
    epochs = logged(res.dir)
    assert [(e["step"], e["model"]) for e in epochs] == [(1, "transformer"), (2, "transformer")]
    best = max(epochs, key=lambda e: e["dev/bleu"])
    assert m["best_epoch"] == best["step"] and m["dev/bleu_greedy"] == best["dev/bleu"]
    t = res.result["timings"]
    assert t["threads"] == 1 and t["dev_bleu_greedy_within_60_min"] == epochs[-1]["dev/bleu"]
    report = (res.dir / "report.md").read_text()
    assert f"sacreBLEU signatures: BLEU `{signature}`" in report
    first = CORPUS.test[0]
    assert f"| {' '.join(first[0])} | {' '.join(first[1])} | {' '.join(hyps['test', 'beam'][0])} |" in report
    state = torch.load(res.dir / "translator.pt", weights_only=True)
    assert (state["format"], state["name"], state["config"]["src_vocab"]) == ("deepkata-translator-2", "transformer", len(src_vocab))

    texts = ["I have three pens.", "they sold five cats ."]
    sources = [src_vocab.encode(tokenize_english(x)) for x in texts]
    for flags, method, beam in ((), "beam", 5), (("--greedy",), "greedy", 1):
        code, out, _ = cli("translate", "--run", str(res.dir), "--device", "cpu", *flags, *texts)
        expected = [join_japanese(tgt_vocab.decode(ids)) for ids in translate_ids(model, sources, method=method, beam=beam)]
        assert code == 0 and out.splitlines() == expected
    code, out, err = cli("translate", "--run", str(res.dir), "--device", "cpu", "zyzzyva cats .")
    unknown = err.strip().rpartition("read as <unk>: ")[2].split()
    assert code == 0 and len(out.splitlines()) == 1 and "zyzzyva" in unknown and "cats" not in unknown


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device to decode on")
def test_the_translate_command_refuses_a_device_this_machine_lacks(tmp_path, cli):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "translator.pt").write_bytes(b"")
    code, _, err = cli("translate", "--run", str(tmp_path), "--device", "cuda", "hello")
    assert code == 2 and "no CUDA device" in err


def test_with_test_off_the_test_split_is_never_decoded(tmp_path, monkeypatch):
    seen = []

    def spy(model, vocabs, pairs, *args):
        seen.append(pairs)
        return evaluate(model, vocabs, pairs, *args)

    evaluate = job_mod.evaluate
    monkeypatch.setattr(job_mod, "evaluate", spy)
    monkeypatch.setattr(kata_mod, "evaluate", spy)
    res = tiny_run(tmp_path, sets=["test=false"])
    assert seen == [CORPUS.dev] * 4 + [CORPUS.dev[:5]]  # 2 epochs, greedy and beam at the end, the examples
    m = res.result["metrics"]
    scores = {f"dev/{score}_{method}" for score in ("bleu", "chrf", "bleu_ja-mecab", "unk") for method in ("greedy", "beam")}
    assert set(m) == scores | {"parameters", "best_epoch", "epochs", "src_vocab", "tgt_vocab"}
    report = (res.dir / "report.md").read_text()
    assert "(test not decoded)" in report and "## Examples from the dev set" in report
    assert next(e for e in res.result["expectations"] if "35" in e["description"])["met"] is False


def test_the_translate_command_refuses_other_runs(tmp_path, cli):
    code, _, err = cli("translate", "--run", str(tmp_path), "hello")
    assert code == 2 and "not a run folder" in err
    other = run_kata("binary-addition", tmp_path)
    code, _, err = cli("translate", "--run", str(other.dir), "hello")
    assert code == 2 and "no translator.pt" in err


def test_compare_trains_each_model_as_translate_would_alone(tmp_path):
    res = tiny_run(tmp_path / "compare", "translate-compare", ["epochs=1"])
    m = res.result["metrics"]
    # every job starts from the run's seed, whatever trained before it
    alone = tiny_run(tmp_path / "alone", sets=["epochs=1", "model=gru-additive"]).result["metrics"]
    assert {k: v for k, v in m.items() if k.startswith("gru-additive/")} == {f"gru-additive/{k}": alone[k] for k in (*(
        f"{split}/{score}_{method}" for split in ("dev", "test") for score in ("bleu", "chrf", "bleu_ja-mecab", "unk") for method in ("greedy", "beam")), "parameters")}  # fmt: skip
    # the sizes come from the config's sections: transformer.* and gru.*, with the corpus's vocabularies
    vs, vt = (len(v) for v in build_vocabs(CORPUS.train, 2))
    e = h = 32
    gru = (vs + vt) * e + 2 * 3 * (e * h + h * h + 2 * h) + h * vt + vt  # embeddings, two GRUs, output layer
    d, f = 32, 64
    attention, ffn, norm = 4 * (d * d + d), d * f + f + f * d + d, 2 * d
    transformer = (vs + vt) * d + vt + (attention + ffn + 2 * norm) + (2 * attention + ffn + 3 * norm)  # output tied
    assert (m["gru/parameters"], m["gru-additive/parameters"], m["transformer/parameters"]) == (
        gru, gru + (2 * h * h + h) + (2 * h * h + h), transformer)  # fmt: skip
    rows = list(csv.DictReader((res.dir / "comparison.csv").open()))
    assert [r["model"] for r in rows] == ["GRU", "GRU + additive attention", "Transformer"]
    for row, name in zip(rows, ("gru", "gru-additive", "transformer")):
        assert float(row["test BLEU beam"]) == round(m[f"{name}/test/bleu_beam"], 2) and row["best epoch"] == "1"
    assert [(e["step"], e["model"]) for e in logged(res.dir)] == [(1, "gru"), (1, "gru-additive"), (1, "transformer")]
    assert (res.dir / "dev_bleu.png").read_bytes()[:4] == b"\x89PNG"
    assert (res.dir / "dev_bleu_time.png").read_bytes()[:4] == b"\x89PNG"  # BLEU against training time
    assert "Dev BLEU (greedy) against training time" in (res.dir / "report.md").read_text()

    # models= trains those alone, with the same scores; the expectations about the others say so
    one = tiny_run(tmp_path / "one", "translate-compare", ["epochs=1", "models=gru-additive"])
    assert one.result["metrics"] == {k: v for k, v in m.items() if k.startswith("gru-additive/")}
    assert [r["model"] for r in csv.DictReader((one.dir / "comparison.csv").open())] == ["GRU + additive attention"]
    assert [(e["step"], e["model"]) for e in logged(one.dir)] == [(1, "gru-additive")]
    said = (one.dir / "report.md").read_text()
    assert "models=gru-additive" in said and "('gru-additive'" not in said  # the overrides as --set takes them
    unmeasured = [e for e in one.result["expectations"] if "was not measured" in e.get("note", "")]
    assert unmeasured and all(e["note"].split()[-4].split("/")[0] in ("gru", "transformer") for e in unmeasured)  # "[target] gru/test/bleu_beam was not measured"
    for bad in ("models=gru,gru", "models=", "models=lstm"):
        with pytest.raises(UserError, match="models"):
            runner.prepare(get_kata("translate-compare"), "default", [bad])


def test_training_interrupted_mid_epoch_resumes_to_the_same_run(tmp_path, interrupt_at_checkpoint):
    # averaging all three epochs: the first epoch's weights must survive the interruption too
    whole = tiny_run(tmp_path / "whole", sets=["epochs=3", "average=3"])
    interrupt_at_checkpoint(14)  # a checkpoint a batch: the toy task's first epoch has 10 batches
    with pytest.raises(runner.Interrupted) as e:
        tiny_run(tmp_path / "cut", sets=["epochs=3", "average=3"], checkpoint_interval=0)
    current = checkpoint.load(e.value.run_dir / "checkpoint.pt")["engine"]["current"]["state"]["trainer"]
    assert (current["epoch"], current["batch_in_epoch"]) == (1, 4)
    resumed = resume_run(e.value.run_dir)
    assert resumed.result["metrics"] == whole.result["metrics"]
    assert logged(resumed.dir, timed=False) == logged(whole.dir, timed=False)
    saved = [load_translator(r.dir / "translator.pt").model.state_dict() for r in (whole, resumed)]
    assert all(torch.equal(saved[0][k], saved[1][k]) for k in saved[0])


def test_the_real_corpus_is_looked_for_and_its_absence_explained(tmp_path, monkeypatch):
    with pytest.raises(UserError, match=r"--data .*: missing train.en, train.ja"):
        run_kata("translate", tmp_path / "runs", preset="default", data=tmp_path)
    monkeypatch.setenv("DEEPKATA_DATA", str(tmp_path / "root"))
    offline = dataclasses.replace(corpus_mod.SMALL_PARALLEL_ENJA, base_url="http://127.0.0.1:9/")
    monkeypatch.setattr(corpus_mod, "SMALL_PARALLEL_ENJA", offline)
    with pytest.raises(UserError, match=r"cannot download http://127.0.0.1:9/train.en .*put dev.en, dev.ja, test.en, test.ja, train.en, train.ja"):
        run_kata("translate", tmp_path / "runs", preset="default")
    assert not (tmp_path / "runs").exists()  # no run folder, nor the folders above it
    with pytest.raises(UserError, match="the toy corpus is generated"):
        tiny_run(tmp_path / "runs", data=tmp_path)


def test_averaging_the_last_epochs_is_scored_on_dev_and_kept_only_when_better(tmp_path, monkeypatch):
    import deepkata.nlp.job as job_mod

    res = tiny_run(tmp_path / "avg", sets=["epochs=3", "average=2"])
    m = res.result["metrics"]
    report = (res.dir / "report.md").read_text()
    assert "average/dev_bleu_greedy" in m and m["average/kept"] in (0, 1)
    assert "the average of epochs 2-3" in report.lower()  # "The average ..., not better." when not kept
    if m["average/kept"]:
        assert m["dev/bleu_greedy"] == pytest.approx(m["average/dev_bleu_greedy"])  # the averaged weights were scored
    # the average really is the mean of the two epochs' weights
    seen = {}
    original = job_mod.TranslationJob._average

    def spy(self):
        seen["recent"] = [dict(w) for w in self.recent]
        out = original(self)
        seen["model"] = {k: v.clone() for k, v in self.model.state_dict().items()}
        return out

    monkeypatch.setattr(job_mod.TranslationJob, "_average", spy)
    tiny_run(tmp_path / "spy", sets=["epochs=2", "average=2"])
    a, b = seen["recent"]
    key = next(k for k in a if a[k].is_floating_point() and not torch.equal(a[k], b[k]))
    assert torch.allclose(seen["model"][key], (a[key] + b[key]) / 2)
    assert "average/dev_bleu_greedy" not in tiny_run(tmp_path / "off", sets=["epochs=1"]).result["metrics"]


def test_a_time_budget_stops_before_an_epoch_that_would_not_fit(tmp_path, monkeypatch):
    import types

    import deepkata.nlp.train as train_mod

    clock = {"now": 0.0}

    def fake_counter() -> float:  # read at a batch's start and end: each batch takes 30 s
        clock["now"] += 30.0
        return clock["now"]

    monkeypatch.setattr(train_mod, "time", types.SimpleNamespace(perf_counter=fake_counter))
    res = tiny_run(tmp_path, sets=["epochs=10", "minutes=12"])  # 10 batches an epoch: 5 minutes each
    assert res.result["metrics"]["epochs"] == 2  # a third epoch would end at 15 minutes
    assert len(logged(res.dir)) == 2
    report = (res.dir / "report.md").read_text()
    assert "trained 2 epochs (all a 12-minute budget left room for)" in report
    assert "Training took 10 min on 1 thread(s), dev decoding excluded." in report  # no word of an hour it never reached
    assert tiny_run(tmp_path / "all", sets=["epochs=2", "minutes=500"]).result["metrics"]["epochs"] == 2


def test_an_annealed_run_plans_its_epochs_from_the_budget_and_the_first_epoch(tmp_path, monkeypatch):
    import types

    import deepkata.nlp.train as train_mod

    clock = {"now": 0.0}

    def fake_counter() -> float:  # each batch takes 30 s: 10 batches, 5 minutes an epoch
        clock["now"] += 30.0
        return clock["now"]

    shares: list[float] = []
    original = train_mod.Schedule.lr_at

    def spy(self, step, epoch=1, remaining=1.0):
        shares.append(remaining)
        return original(self, step, epoch, remaining)

    monkeypatch.setattr(train_mod, "time", types.SimpleNamespace(perf_counter=fake_counter))
    monkeypatch.setattr(train_mod.Schedule, "lr_at", spy)
    res = tiny_run(tmp_path, sets=["epochs=10", "minutes=14", "anneal=true"])
    # the first epoch runs at the full schedule; it says two epochs fit, and the second anneals to 0
    assert res.result["metrics"]["epochs"] == 2
    assert shares[1:] == pytest.approx([1.0] * 10 + [1 - (10 + k) / 20 for k in range(10)])  # [0]: Adam's initial rate
    shares.clear()
    assert tiny_run(tmp_path / "all", sets=["epochs=2", "minutes=none", "anneal=true"]).result["metrics"]["epochs"] == 2
    assert shares[1:] == pytest.approx([1 - k / 20 for k in range(20)])  # no budget: every epoch planned from the start

