"""The judge: standardized inputs, features and predictions that agree with its network, a
reload that gives the same scores, and FID and coverage computed on its outputs."""

from __future__ import annotations

from pathlib import Path

import torch

from deepkata.generative.images import load_intensities
from deepkata.generative.judge import Judge, JudgeTrainer, judge_model, judge_recipe, judge_splits
from deepkata.generative.measures import class_coverage, feature_stats, frechet_distance


def test_the_splits_are_standardized_by_the_training_pixels() -> None:
    images = load_intensities("digits", None, validation=100, seed=0)
    splits = judge_splits(images)
    assert abs(splits.train[0].mean().item()) < 1e-5 and abs(splits.train[0].std().item() - 1) < 1e-4
    assert torch.allclose(splits.test[0] * splits.std + splits.mean, images.test, atol=1e-5)
    assert splits.classes == 10 and len(splits.val[1]) == 100 and splits.train[1].dtype == torch.int64


def test_the_judge_learns_the_digits() -> None:
    images = load_intensities("digits", None, validation=200, seed=0)
    torch.manual_seed(0)
    trainer = JudgeTrainer(judge_model(8, 10), judge_recipe(6), judge_splits(images), torch.device("cpu"))
    while not trainer.done:
        trainer.train_chunk()
    assert trainer.history["val_accuracy"][-1] > 0.9
    out = trainer.outputs()
    assert out["test_accuracy"] > 0.9 and out["mean"] == judge_splits(images).mean


def test_features_predictions_and_scores() -> None:
    torch.manual_seed(0)
    model = judge_model(8, 10).eval()
    assert model.widths == (16, 32) and judge_model(28, 10).widths == (16, 32, 64) and judge_model(32, 10).widths == (16, 32, 64)
    judge = Judge(model, mean=0.3, std=0.4, device=torch.device("cpu"))
    x = torch.rand(40, 1, 8, 8)
    with torch.no_grad():
        h = model.features((x - 0.3) / 0.4).mean(dim=(2, 3))
        logits = model((x - 0.3) / 0.4)
    assert torch.allclose(judge.features(x), h, atol=1e-6)
    assert torch.equal(judge.predict(x), logits.argmax(1))
    fid, cov = judge.score(x, judge.stats(x))
    assert fid < 1e-9  # a set against its own statistics
    expected = class_coverage(logits.argmax(1), 10)
    assert (cov.shares == expected.shares).all() and cov.entropy == expected.entropy
    y = torch.rand(40, 1, 8, 8) * 0.5
    assert abs(judge.score(y, judge.stats(x))[0] - frechet_distance(feature_stats(h), feature_stats(judge.features(y)))) < 1e-9
    # a reloaded judge scores the same
    again = Judge.from_result({"state": model.state_dict(), "mean": 0.3, "std": 0.4}, 8, 10, torch.device("cpu"))
    assert torch.equal(again.features(x), judge.features(x))


def test_a_saved_judge_loads_to_the_same_scores(tmp_path: Path) -> None:
    torch.manual_seed(0)
    judge = Judge(judge_model(28, 10).eval(), mean=0.1, std=0.3, device=torch.device("cpu"))
    judge.save(tmp_path / "judge.pt")
    again = Judge.load(tmp_path / "judge.pt", torch.device("cpu"))
    x = torch.rand(12, 1, 28, 28)
    assert torch.equal(again.features(x), judge.features(x)) and (again.mean, again.std, again.classes) == (0.1, 0.3, 10)
