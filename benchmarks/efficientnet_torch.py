#!/usr/bin/env python3
"""EfficientNet-Lite0 forward time in PyTorch (CPU eager, NCHW, one 224x224 image, no grad),
the same computation grlhf runs: batch norm folded into each convolution's weight and bias,
F.conv2d + clamp_(0, 6), identity skips, mean pooling, F.linear. Prints the mean ms of --runs
forwards after 3 warm-up runs.

Usage: .cache/bench-venv/bin/python benchmarks/efficientnet_torch.py PTH [--threads 1] [--runs 30]
"""
import argparse
import time

import torch
import torch.nn.functional as F

EPS = 1e-3
STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pth")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=30)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    sd = torch.load(a.pth, map_location="cpu", weights_only=True)

    def fold(conv, bn, stride=1, act=True):
        w = sd[conv + ".weight"]
        s = sd[bn + ".weight"] / torch.sqrt(sd[bn + ".running_var"] + EPS)
        return (w * s[:, None, None, None], sd[bn + ".bias"] - sd[bn + ".running_mean"] * s, stride,
                w.shape[0] if w.shape[1] == 1 else 1, act)

    stem = fold("_conv_stem", "_bn0", 2)
    blocks, b = [], 0
    for e, k, st, o, rep in STAGES:
        for r in range(rep):
            p = f"_blocks.{b}."
            layers = [fold(p + "_expand_conv", p + "_bn0")] if e != 1 else []
            layers += [fold(p + "_depthwise_conv", p + "_bn1", st if r == 0 else 1), fold(p + "_project_conv", p + "_bn2", act=False)]
            blocks.append(layers)
            b += 1
    head = fold("_conv_head", "_bn1")

    def conv(x, w, bias, stride, groups, act):
        y = F.conv2d(x, w, bias, stride=stride, padding=(w.shape[-1] - 1) // 2, groups=groups)
        return y.clamp_(0, 6) if act else y

    def forward(x):
        x = conv(x, *stem)
        for layers in blocks:
            inp = x
            for layer in layers:
                x = conv(x, *layer)
            if x.shape == inp.shape:
                x = x + inp
        x = conv(x, *head)
        return F.linear(x.mean((2, 3)), sd["_fc.weight"], sd["_fc.bias"])

    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        for _ in range(3):
            forward(x)
        t = time.perf_counter()
        for _ in range(a.runs):
            forward(x)
    print("%.3f" % ((time.perf_counter() - t) / a.runs * 1e3))


if __name__ == "__main__":
    main()
