"""Generative models: the ``vae``, ``gan`` and ``wavenet`` katas over seeds, each target of issue 19 checked on every seed.

Each kata runs once per seed at ``--preset`` (``full`` by default: MNIST for the VAE and the GANs,
the Free Spoken Digit Dataset for WaveNet, from ``DEEPKATA_DATA``; ``default`` runs on the
embedded digits and generated tones). Each figure is tabled as mean ± sd over the seeds with every
seed's value, and the issue's targets are checked on every seed:

- VAE: the best test NLL (chosen on validation) at most 90 nats, within 30 minutes of training
  (on MNIST: the ``full`` preset);
- DCGAN: its classifier-FID below the VAE's samples', and every class at least 5% of its samples;
- WaveNet: test bits per sample below the linear-predictive baseline's, cached generation at
  least 10 times faster than naive with identical samples; the judge's accuracy on generated
  audio is reported (the moonshot: 50%).

``--reuse`` takes finished runs instead of training their seeds again: run folders or
``bench/run_kata.py`` records. Run it alone: anything else on the 2 cores slows the training.

    python bench/generative.py                                  # 3 seeds of each kata's full preset (hours)
    python bench/generative.py --preset default --katas gan wavenet
    python bench/generative.py --reuse bench/results/vae-full.json runs/gan/...-s0
    python bench/generative.py --smoke --out /tmp/g             # every step at a tiny size (CI)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from _shared import add_options, finished_run, holds, over_seeds, parse, run_kata_seed

KATAS = ("vae", "gan", "wavenet")
SMOKE = {"preset": "smoke", "seeds": [0, 1]}
# each kata's figures: (metric in its record, label); a metric a run lacks is left out
FIGURES: dict[str, tuple[tuple[str, str], ...]] = {
    "vae": (
        ("vae/best_nll", "best VAE: test NLL (nats)"), ("vae-mlp/test_nll", "MLP VAE: test NLL (nats)"), ("vae-conv/test_nll", "conv VAE: test NLL (nats)"),
        ("vae-mlp/test_elbo", "MLP VAE: test ELBO (nats)"), ("pixels/test_nll", "independent pixels: NLL (nats)"),
        ("vae-mlp/train_minutes", "MLP VAE: training minutes"), ("vae-conv/train_minutes", "conv VAE: training minutes"),
    ),
    "gan": (
        ("gan/best_dcgan_fid", "best DCGAN: test classifier-FID"), ("dcgan/nonsaturating/test_fid", "DCGAN, non-saturating: FID"),
        ("dcgan/minimax/test_fid", "DCGAN, minimax: FID"), ("gan-mlp/nonsaturating/test_fid", "MLP GAN, non-saturating: FID"),
        ("gan-mlp/minimax/test_fid", "MLP GAN, minimax: FID"), ("vae/test_fid", "VAE samples: FID"), ("real/test_fid", "real images: FID (floor)"),
        ("pixels/test_fid", "independent pixels: FID"), ("gan/dcgan_min_class_share", "best DCGAN: rarest class share"),
        ("judge/test_accuracy", "judge: test accuracy"), ("dcgan/nonsaturating/train_minutes", "DCGAN, non-saturating: training minutes"),
    ),
    "wavenet": (
        ("test/wavenet_bits", "WaveNet: test bits/sample"), ("test/linear_prediction_bits", "linear prediction: test bits/sample"),
        ("test/marginal_bits", "μ-law marginal: test bits/sample"), ("speaker/wavenet_bits", "WaveNet: unseen speaker bits/sample"),
        ("speaker/linear_prediction_bits", "linear prediction: unseen speaker bits/sample"), ("speed/ratio", "cached over naive generation speed"),
        ("speed/equal", "cached samples equal naive (1: yes)"), ("generated/judge_accuracy", "generated audio: judge accuracy"),
        ("judge/test_accuracy", "judge: test accuracy on real recordings"), ("wavenet/train_minutes", "WaveNet: training minutes"),
    ),
}  # fmt: skip
# issue 19's targets, checked on every seed: (metric, op, value, presets it applies to)
FULL_ONLY = ("full",)
TARGETS: dict[str, tuple[tuple[str, str, float, tuple[str, ...] | None], ...]] = {
    "vae": (("vae/best_nll", "<=", 90.0, FULL_ONLY), ("vae-mlp/train_minutes", "<=", 30.0, FULL_ONLY)),
    "gan": (("gan/dcgan_gain_over_vae", ">=", 0.0, None), ("gan/dcgan_min_class_share", ">=", 0.05, None)),
    "wavenet": (("wavenet/gain_over_lpc_bits", ">=", 0.0, None), ("speed/ratio", ">=", 10.0, None), ("speed/equal", ">=", 1.0, None)),  # the ratio: reported on every preset
}


def table(kata: str, preset: str, per_seed: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The kata's figures over the seeds, and its targets checked on every seed."""
    rows = [{"figure": label, "metric": key, **over_seeds({s: r["metrics"][key] for s, r in per_seed.items()})}
            for key, label in FIGURES[kata] if all(r["metrics"].get(key) is not None for r in per_seed.values())]  # fmt: skip
    targets = []
    for key, op, value, presets in TARGETS[kata]:
        if presets is not None and preset not in presets or not all(key in r["metrics"] for r in per_seed.values()):
            continue
        seen = {str(s): r["metrics"][key] for s, r in per_seed.items()}
        targets.append({"metric": key, "target": f"{op} {value:g}", "per_seed": seen, "met_on_every_seed": all(holds(v, op, value) for v in seen.values())})
    return {"rows": rows, "targets": targets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="full", help="the katas' preset")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--katas", nargs="+", default=list(KATAS), choices=KATAS)
    parser.add_argument("--reuse", type=Path, nargs="*", default=[], help="finished runs (folders or bench/run_kata.py records) for their seeds")
    parser.add_argument("--reuse-only", action="store_true", help="table only the --reuse runs; train nothing")
    add_options(parser, runs="runs/bench-generative")
    args = parse(parser, SMOKE)

    from deepkata.core.benchmark import record
    from deepkata.core.records import environment

    env = environment()
    found: dict[str, dict[int, dict[str, Any]]] = {k: {} for k in args.katas}
    for path in args.reuse:
        kata, preset, seed, result = finished_run("generative.py", path, KATAS)
        if preset != args.preset:
            raise SystemExit(f"bench/generative.py: {path} ran preset {preset!r}, this table is of {args.preset!r}")
        if kata in found and seed in args.seeds:
            found[kata][seed] = result
    results: dict[str, Any] = {"preset": args.preset, "seeds": args.seeds}
    for kata, per_seed in found.items():
        for seed in args.seeds:
            if seed not in per_seed and not args.reuse_only:
                per_seed[seed] = run_kata_seed("generative.py", kata, args.preset, seed, args.runs)
        if not per_seed:
            results[kata] = {"not_run": True}
            continue
        per_seed = dict(sorted(per_seed.items()))
        runs = {str(s): {"source": r["source"], "wall_time_s": r["wall_time_s"], "reused": r.get("reused", False)} for s, r in per_seed.items()}
        results[kata] = {"seeds": list(per_seed), **table(kata, args.preset, per_seed), "runs": runs}
    record("generative", results, env=env, out_dir=args.out)


if __name__ == "__main__":
    main()
