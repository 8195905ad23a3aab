"""PyTorch's (MKL) sgemm rate on the training benchmark's matmul shapes, at N threads.

The counterpart of grlhf's `sgemm_peak_gflops` (TrainStepBenchmark.sgemmPeak): the same five
(M, N, K) shapes, median of 8 runs each, best shape reported. It tells how much of a step-time
gap is the BLAS library rather than the rest of the engine.
    .cache/bench-venv/bin/python benchmarks/sgemm_torch.py --threads 1
"""
import argparse
import json
import statistics
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
a = p.parse_args()
torch.set_num_threads(a.threads)
rows, d, v = 8 * 128, 256, 2048
shapes = [(rows, 3 * d, d), (rows, 4 * d, d), (rows, d, 4 * d), (rows, v, d), (d, 4 * d, rows)]
rates = {}
for m, n, k in shapes:
    x, y = torch.full((m, k), 0.5), torch.full((k, n), 0.25)
    times = []
    for _ in range(8):
        t0 = time.perf_counter()
        torch.mm(x, y)
        times.append(time.perf_counter() - t0)
    rates[f"{m}x{n}x{k}"] = 2 * m * n * k / statistics.median(times) / 1e9
print(json.dumps({"impl": "pytorch", "threads": a.threads, "sgemm_peak_gflops": max(rates.values()),
                  "per_shape": {s: round(r, 1) for s, r in rates.items()}}))
