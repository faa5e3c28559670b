"""Speed of the from-scratch recurrent layers, and the overhead of the project's sequence model.

1. Forward + backward (every gradient, input included) of the NumPy LSTM and GRU against
   ``torch.nn.LSTM`` / ``torch.nn.GRU`` on the CPU, same weights, float64 on both sides (and
   PyTorch in float32 beside it), at a few sizes. Before timing, outputs and gradients are
   checked equal.
2. :class:`deepkata.models.sequence.SequenceModel` against the raw ``nn.LSTM`` it wraps (and the
   same ``nn.LSTM`` + ``nn.Linear`` on the last step), forward + backward, interleaved: the
   overhead must stay within 5%.

    python bench/recurrent.py                 # one thread, writes bench/results/recurrent.json
    python bench/recurrent.py --threads 2 --out /tmp
    python bench/recurrent.py --smoke --out /tmp/rec  # one tiny size, one call a timing (CI)

Thread counts are fixed before NumPy and PyTorch load, so both sides use the same.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from _shared import add_options, parse

SIZES = [  # batch, steps, inputs, hidden
    (1, 50, 16, 32),
    (16, 50, 32, 64),
    (32, 100, 64, 128),
    (64, 50, 128, 256),
]
SMOKE = {"sizes": [(2, 5, 3, 4)], "number": 1, "repeat": 1, "overhead_number": 2, "overhead_repeat": 1}  # the options' values under --smoke


def bench_cell(cell: str, batch: int, steps: int, n_in: int, hidden: int, number: int, repeat: int) -> dict[str, Any]:
    import numpy as np
    import torch

    from deepkata.core.benchmark import time_per_call
    from deepkata.rnn.scratch import interop
    from deepkata.rnn.scratch.stack import build

    rng = np.random.default_rng(0)
    stack = build(cell, n_in, hidden, rng)  # type: ignore[arg-type]  # Xavier-scaled weights
    for name, v in stack.params.items():
        if "/b" in name:
            v[...] = rng.normal(0, 0.1, size=v.shape)
    x = rng.normal(size=(batch, steps, n_in))
    g = rng.normal(size=(batch, steps, hidden))

    def numpy_step() -> Any:
        _, _, caches = stack.forward(x)
        return stack.backward(caches, g)

    def torch_stepper(dtype: torch.dtype) -> Any:
        module = interop.torch_module(stack).to(dtype)
        xt = torch.tensor(x, dtype=dtype, requires_grad=True)
        gt = torch.tensor(g, dtype=dtype)

        def step() -> Any:
            module.zero_grad(set_to_none=True)
            xt.grad = None
            y, _ = module(xt)
            y.backward(gt)
            return module

        return step

    # equal before timed
    back = numpy_step()
    module = torch_stepper(torch.float64)()
    expected = interop.torch_grads(module, stack)
    scale = max(float(np.max(np.abs(expected[k]))) for k in expected)
    worst = max(float(np.max(np.abs(back.grads[k] - expected[k]))) for k in back.grads) / scale
    assert worst < 1e-9, f"{cell}: gradients differ by {worst} of their largest value"

    timings = {
        "numpy_float64": time_per_call(numpy_step, number=number, repeat=repeat),
        "torch_float64": time_per_call(torch_stepper(torch.float64), number=number, repeat=repeat),
        "torch_float32": time_per_call(torch_stepper(torch.float32), number=number, repeat=repeat),
    }
    ms = {k: round(v["median_s"] * 1e3, 3) for k, v in timings.items()}
    return {
        "cell": cell,
        "batch": batch, "steps": steps, "inputs": n_in, "hidden": hidden,
        "ms_per_forward_backward": ms,
        "numpy_over_torch_float64": round(ms["numpy_float64"] / ms["torch_float64"], 3),
        "numpy_over_torch_float32": round(ms["numpy_float64"] / ms["torch_float32"], 3),
        "max_grad_diff_vs_torch_relative": worst,
    }  # fmt: skip


def bench_overhead(number: int, repeat: int) -> dict[str, Any]:
    """SequenceModel vs raw nn.LSTM (and + nn.Linear), the same weights, interleaved timings."""
    import statistics
    import time

    import torch

    from deepkata.models.sequence import SequenceModel, SequenceModelConfig

    batch, steps, n_in, hidden = 32, 50, 16, 64
    torch.manual_seed(0)
    headless = SequenceModel(SequenceModelConfig(cell="lstm", input_size=n_in, hidden=hidden))
    headed = SequenceModel(SequenceModelConfig(cell="lstm", input_size=n_in, hidden=hidden, output_size=1, readout="last"))
    raw = torch.nn.LSTM(n_in, hidden, batch_first=True)
    raw.load_state_dict(headless.rnn.state_dict())
    raw_head = torch.nn.Linear(hidden, 1)
    raw2 = torch.nn.LSTM(n_in, hidden, batch_first=True)
    raw2.load_state_dict(headed.rnn.state_dict())
    raw_head.load_state_dict(headed.head.state_dict())
    x = torch.randn(batch, steps, n_in)

    def model_all() -> None:
        headless(x)[0].sum().backward()

    def raw_all() -> None:
        raw(x)[0].sum().backward()

    def model_last() -> None:
        headed(x)[0].sum().backward()

    def raw_last() -> None:
        raw_head(raw2(x)[0][:, -1]).sum().backward()

    pairs = {"all_steps_no_head": (model_all, raw_all), "last_step_linear_head": (model_last, raw_last)}
    out: dict[str, Any] = {"batch": batch, "steps": steps, "inputs": n_in, "hidden": hidden}
    for name, (ours, theirs) in pairs.items():
        for fn in (ours, theirs):  # warm-up
            for _ in range(number):
                fn()
        samples: dict[str, list[float]] = {"model": [], "raw": []}
        for _ in range(repeat):  # interleaved, so drift in machine load hits both alike
            for label, fn in (("model", ours), ("raw", theirs)):
                start = time.perf_counter()
                for _ in range(number):
                    fn()
                samples[label].append((time.perf_counter() - start) / number)
        model_ms, raw_ms = (statistics.median(samples[k]) * 1e3 for k in ("model", "raw"))
        out[name] = {
            "ms_model": round(model_ms, 4),
            "ms_raw": round(raw_ms, 4),
            "overhead": round(model_ms / raw_ms - 1, 4),
            "within_5_percent": model_ms / raw_ms - 1 <= 0.05,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS and PyTorch threads on both sides")
    parser.add_argument("--number", type=int, default=10, help="calls per timing")
    parser.add_argument("--repeat", type=int, default=5, help="timings per implementation")
    parser.add_argument("--overhead-number", type=int, default=20, help="calls per timing of the sequence model's overhead (at least --number)")
    parser.add_argument("--overhead-repeat", type=int, default=7, help="interleaved timings of the overhead (at least --repeat)")
    parser.set_defaults(sizes=SIZES)
    add_options(parser)
    args = parse(parser, SMOKE)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import torch

    from deepkata.core.benchmark import record
    from deepkata.core.records import environment

    env = environment()
    torch.set_num_threads(args.threads)
    cells = [bench_cell(cell, *size, args.number, args.repeat) for cell in ("lstm", "gru") for size in args.sizes]
    overhead = bench_overhead(max(args.number, args.overhead_number), max(args.repeat, args.overhead_repeat))
    record(
        "recurrent",
        {
            "what": "ms per forward+backward (all gradients); ratio > 1 means NumPy is slower",
            "threads": args.threads,
            "scratch_vs_torch": cells,
            "sequence_model_overhead": overhead,
        },
        env=env,
        out_dir=args.out,
    )


if __name__ == "__main__":
    main()
