"""``deepkata coco-eval``: pycocotools' printout, --json, and one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deepkata.detection.coco import evaluate_files, random_coco_set


def coco_eval(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deepkata", "coco-eval", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    gt, dets = random_coco_set(4, images=10, per_image=20, jitter=0.05)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    return tmp_path / "gt.json", tmp_path / "dets.json"


def test_prints_the_twelve_lines_and_json(files):
    gt, dets = files
    out = coco_eval(str(gt), str(dets))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    expected = evaluate_files(gt, dets)
    assert lines == expected.summary_lines()
    assert lines[0].startswith(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = ")
    as_json = json.loads(coco_eval(str(gt), str(dets), "--json").stdout)
    assert as_json["stats"] == [float(s) for s in expected.stats] and len(as_json["stats"]) == 12
    assert as_json["names"][:3] == ["AP", "AP50", "AP75"]


def test_bad_input_is_one_line_and_exit_2(files, tmp_path):
    gt, dets = files
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    for args, message in (
        ((str(gt), str(bad)), "bad.json: line 1: not JSON"),
        ((str(gt), str(tmp_path / "missing.json")), "missing.json: no such file"),
    ):
        out = coco_eval(*args)
        assert out.returncode == 2 and out.stdout == ""
        assert out.stderr.count("\n") == 1 and message in out.stderr
    wrong = json.loads(dets.read_text())
    wrong[0]["image_id"] = 4242
    bad.write_text(json.dumps(wrong))
    out = coco_eval(str(gt), str(bad))
    assert out.returncode == 2 and "detections[0].image_id: 4242 is not an image id of the ground truth" in out.stderr
