"""Training speed of the NumPy simple RNN against the same network in PyTorch.

One SGD step on one sample (forward, loss, backward through time, update), the way the
binary-addition kata trains, timed for both implementations in the same process on the same
pre-drawn samples. Before timing, both are trained for a few hundred steps from the same
float64 weights and must end with the same weights, so the two really compute one thing.

    python bench/binary_addition.py                      # writes bench/results/binary_addition.json
    python bench/binary_addition.py --hidden 16 --number 500 --repeat 3 --out /tmp
    python bench/binary_addition.py --smoke --out /tmp/ba       # hidden 4, 20 steps a timing (CI)
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch
from _shared import add_options, parse

from deepkata.core.benchmark import record, time_per_call
from deepkata.core.records import environment
from deepkata.rnn.binary_addition import Trainer, TrainSettings, make_batch, sigmoid_mse
from deepkata.rnn.scratch.simple_rnn import SimpleRNN, SimpleRNNConfig
from deepkata.models.sequence import SequenceModel
from deepkata.rnn.simple_rnn_torch import sigmoid_mse as torch_sigmoid_mse
from deepkata.rnn.simple_rnn_torch import twin, weights_of

BITS = 8
LR = 0.1
SMOKE = {"hidden": [4], "number": 20, "repeat": 1}  # the options' values under --smoke


def samples(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.random.default_rng(seed).integers(0, 2 ** (BITS - 1), size=(2, n))
    return make_batch(a, b, BITS)  # (n, 8, 2), (n, 8, 1)


def numpy_stepper(model: SimpleRNN, x: np.ndarray, d: np.ndarray) -> Any:
    i = 0

    def step() -> None:
        nonlocal i
        xi, di = x[i : i + 1], d[i : i + 1]
        v, cache = model.forward(xi)
        _, dv = sigmoid_mse(v, di)
        grads, _ = model.backward(cache, dv)
        model.step(grads, LR)
        i = (i + 1) % len(x)

    return step


def torch_stepper(model: SequenceModel, x: np.ndarray, d: np.ndarray, dtype: torch.dtype) -> Any:
    xt, dt = torch.tensor(x, dtype=dtype), torch.tensor(d, dtype=dtype)
    params = list(model.parameters())
    i = 0

    def step() -> None:
        nonlocal i
        loss = torch_sigmoid_mse(model(xt[i : i + 1])[0], dt[i : i + 1]).sum()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(LR * g)
        i = (i + 1) % len(xt)

    return step


def check_equal(hidden: int, x: np.ndarray, d: np.ndarray, steps: int = 300) -> float:
    """Max |W_numpy - W_torch| after ``steps`` SGD steps from the same float64 weights."""
    model = SimpleRNN.init(SimpleRNNConfig(hidden=hidden, init="xavier"), np.random.default_rng(1))
    other = twin(model.params, "sigmoid", torch.float64)
    np_step, t_step = numpy_stepper(model, x, d), torch_stepper(other, x, d, torch.float64)
    for _ in range(steps):
        np_step()
        t_step()
    theirs = weights_of(other)
    return max(float(np.max(np.abs(model.params[k] - theirs[k]))) for k in ("W_in", "W", "W_out"))


def bench_size(hidden: int, number: int, repeat: int) -> dict[str, Any]:
    x, d = samples(max(number, 1000))
    weights_diff = check_equal(hidden, x, d)
    assert weights_diff < 1e-9, f"NumPy and PyTorch disagree after training: {weights_diff}"

    def fresh_numpy() -> SimpleRNN:
        return SimpleRNN.init(SimpleRNNConfig(hidden=hidden, init="xavier"), np.random.default_rng(1))

    timings = {
        "numpy_float64": time_per_call(numpy_stepper(fresh_numpy(), x, d), number=number, repeat=repeat),
        "torch_float64": time_per_call(
            torch_stepper(twin(fresh_numpy().params, "sigmoid", torch.float64), x, d, torch.float64),
            number=number, repeat=repeat,
        ),  # fmt: skip
        "torch_float32": time_per_call(
            torch_stepper(twin(fresh_numpy().params, "sigmoid", torch.float32), x, d, torch.float32),
            number=number, repeat=repeat,
        ),  # fmt: skip
    }
    its = {k: 1.0 / v["median_s"] for k, v in timings.items()}
    return {
        "hidden": hidden,
        "iterations_per_s": {k: round(v, 1) for k, v in its.items()},
        "numpy_over_torch_float64": round(its["numpy_float64"] / its["torch_float64"], 3),
        "numpy_over_torch_float32": round(its["numpy_float64"] / its["torch_float32"], 3),
        "weights_max_abs_diff_after_300_steps": weights_diff,
        "timings": timings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[16, 64, 256], help="hidden sizes to time")
    parser.add_argument("--number", type=int, default=2000, help="SGD steps per timing")
    parser.add_argument("--repeat", type=int, default=5, help="timings per implementation")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1: per-sample work has no parallelism)")
    add_options(parser)
    args = parse(parser, SMOKE)
    env = environment()
    torch.set_num_threads(args.threads)

    sizes = [bench_size(h, args.number, args.repeat) for h in args.hidden]
    # what a user of the kata sees: the whole Trainer, bookkeeping included, at the kata's size
    trainer = Trainer(TrainSettings(iterations=args.number * (args.repeat + 1)), 0)
    kata = time_per_call(lambda: trainer.train(1), number=args.number, repeat=args.repeat)
    record(
        "binary_addition",
        {
            "what": "iterations/s of per-sample SGD (forward, loss, BPTT, update), 8-bit binary addition, sigmoid RNN",
            "torch_threads": torch.get_num_threads(),
            "sizes": sizes,
            "kata_trainer_iterations_per_s": round(1.0 / kata["median_s"], 1),
        },
        env=env,
        out_dir=args.out,
    )


if __name__ == "__main__":
    main()
