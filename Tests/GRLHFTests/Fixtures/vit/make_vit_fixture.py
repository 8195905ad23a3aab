"""Golden files for grlhf's ViT encoder, computed by Hugging Face `transformers`.

Builds a tiny randomly initialised `transformers.ViTModel(config, add_pooling_layer=False)`
from a config (no weights are downloaded): 16x16 RGB images, 4x4 patches (16 patches + CLS =
17 tokens), hidden 32, 2 layers, 4 heads (head_dim 8), intermediate 64, gelu_pytorch_tanh
(the tanh-approximate GELU), layer_norm_eps 1e-12, q/k/v biases, eager attention, float32.
After torch.manual_seed(0) every parameter (cls token and position embeddings included) is
re-drawn from N(0, 0.1^2); LayerNorm weights from 1 + N(0, 0.1^2). This folder receives:

  model/config.json, model/model.safetensors
                        model.save_pretrained(model/, safe_serialization=True)
  expected.safetensors  (all F32, written with safetensors.torch.save_file):
    pixel_values       [2, 3, 16, 16]  uniform in [-1, 1) (torch.Generator seeded 1234)
    last_hidden_state  [2, 17, 32]     model(pixel_values).last_hidden_state; token 0 is CLS,
                                       tokens 1..16 are the patches in row-major order
    loss               []              last_hidden_state.pow(2).mean()
    grad.<key>         d loss / d parameter, for every parameter. <key> is the parameter's key
                       in model/model.safetensors. NOTE: transformers 5 renamed ViT's modules
                       (named_parameters() says layers.0.attention.q_proj.weight) but
                       save_pretrained still writes the v4 / Hub names
                       (encoder.layer.0.attention.attention.query.weight); the grads use the
                       file's names, and README.md lists both.

The script also re-implements the forward pass in plain torch from the saved tensors (the
computation order documented in README.md) and checks it against HF, output and gradients;
checks that interpolate_pos_encoding=True changes nothing at the native 16x16 size; reloads
model/ with ViTModel.from_pretrained and checks that the output reproduces bit for bit; and
writes README.md (versions, parameter names/shapes, computation order, file sizes).

Run with the benchmark venv (neither torch nor transformers is needed by the Swift tests):
    .cache/bench-venv/bin/python Tests/GRLHFTests/Fixtures/vit/make_vit_fixture.py
"""
import json
import math
import pathlib

import safetensors
import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import ViTConfig, ViTModel

HERE = pathlib.Path(__file__).resolve().parent
MODEL_DIR = HERE / "model"
B = 2
CONFIG = dict(
    image_size=16, patch_size=4, num_channels=3, hidden_size=32, num_hidden_layers=2,
    num_attention_heads=4, intermediate_size=64, hidden_act="gelu_pytorch_tanh",
    layer_norm_eps=1e-12, qkv_bias=True, attn_implementation="eager",
)


def build():
    torch.manual_seed(0)
    model = ViTModel(ViTConfig(**CONFIG), add_pooling_layer=False).to(torch.float32).eval()
    assert model.config._attn_implementation == "eager" and model.pooler is None
    ln_weights = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.LayerNorm)}
    with torch.no_grad():
        for _, p in model.named_parameters():
            offset = 1.0 if id(p) in ln_weights else 0.0
            p.copy_(torch.randn_like(p) * 0.1 + offset)
    return model


def file_keys(model, saved):
    """named_parameters() name -> key in model.safetensors, matched by (unique) value."""
    mapping = {}
    for name, p in model.named_parameters():
        hits = [k for k, t in saved.items() if t.shape == p.shape and torch.equal(t, p.detach())]
        assert len(hits) == 1, (name, hits)
        mapping[name] = hits[0]
    assert sorted(mapping.values()) == sorted(saved), "file has keys that are not parameters"
    return mapping


def reference_forward(w, x, cfg):
    """Plain-torch ViT from the on-disk (v4-named) tensors; mirrors README.md step by step."""
    n, c, h, wd = x.shape
    p, d, nh = cfg.patch_size, cfg.hidden_size, cfg.num_attention_heads
    hd, eps = d // nh, cfg.layer_norm_eps
    gh, gw = h // p, wd // p
    # Patch embedding: Conv2d(kernel=stride=p) == matmul over patches flattened as (C, p, p).
    patches = x.reshape(n, c, gh, p, gw, p).permute(0, 2, 4, 1, 3, 5).reshape(n, gh * gw, c * p * p)
    pw = w["embeddings.patch_embeddings.projection.weight"].reshape(d, c * p * p)
    hs = patches @ pw.T + w["embeddings.patch_embeddings.projection.bias"]
    hs = torch.cat([w["embeddings.cls_token"].expand(n, 1, d), hs], dim=1)
    hs = hs + w["embeddings.position_embeddings"]

    def ln(t, pre):
        return torch.nn.functional.layer_norm(t, (d,), w[pre + ".weight"], w[pre + ".bias"], eps)

    def lin(t, pre):
        return t @ w[pre + ".weight"].T + w[pre + ".bias"]

    for i in range(cfg.num_hidden_layers):
        L = f"encoder.layer.{i}."
        t = ln(hs, L + "layernorm_before")
        q, k, v = (lin(t, L + "attention.attention." + s).reshape(n, -1, nh, hd).transpose(1, 2)
                   for s in ("query", "key", "value"))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1)
        o = (att @ v).transpose(1, 2).reshape(n, -1, d)
        hs = hs + lin(o, L + "attention.output.dense")
        t = ln(hs, L + "layernorm_after")
        t = torch.nn.functional.gelu(lin(t, L + "intermediate.dense"), approximate="tanh")
        hs = hs + lin(t, L + "output.dense")
    return ln(hs, "layernorm")


def main():
    model = build()
    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(MODEL_DIR, safe_serialization=True)
    saved = load_file(str(MODEL_DIR / "model.safetensors"))
    assert all(t.dtype == torch.float32 for t in saved.values())
    to_file = file_keys(model, saved)

    gen = torch.Generator().manual_seed(1234)
    pixel_values = torch.rand(B, 3, CONFIG["image_size"], CONFIG["image_size"], generator=gen) * 2 - 1

    model.zero_grad(set_to_none=True)
    out = model(pixel_values).last_hidden_state
    loss = out.pow(2).mean()
    loss.backward()
    assert out.shape == (B, 17, 32), out.shape
    out = out.detach()

    # interpolate_pos_encoding=True at the native (square) size returns the stored table as is.
    with torch.no_grad():
        interp = model(pixel_values, interpolate_pos_encoding=True).last_hidden_state
    assert torch.equal(interp, out), (interp - out).abs().max()

    # Independent re-implementation from the saved tensors: output and all gradients.
    ref_w = {k: t.clone().requires_grad_(True) for k, t in saved.items()}
    ref = reference_forward(ref_w, pixel_values, model.config)
    ref.pow(2).mean().backward()
    ref_diff = (ref.detach() - out).abs().max().item()
    assert ref_diff < 1e-5, ref_diff
    grad_diff = 0.0
    for name, p in model.named_parameters():
        g_ref = ref_w[to_file[name]].grad
        grad_diff = max(grad_diff, (g_ref - p.grad).abs().max().item())
        assert torch.allclose(g_ref, p.grad, rtol=1e-4, atol=1e-6), name

    tensors = {"pixel_values": pixel_values.contiguous(), "last_hidden_state": out.contiguous(),
               "loss": loss.detach().reshape(())}
    params = []
    for name, p in model.named_parameters():
        assert p.dtype == torch.float32 and p.grad is not None, name
        tensors["grad." + to_file[name]] = p.grad.detach().clone().contiguous()
        params.append((name, to_file[name], tuple(p.shape)))
    save_file(tensors, str(HERE / "expected.safetensors"))

    # Reload from disk (v4 key names are converted back on load): eager must be bit-exact.
    reloaded, info = ViTModel.from_pretrained(MODEL_DIR, add_pooling_layer=False,
                                              attn_implementation="eager",
                                              output_loading_info=True)
    reloaded.eval()
    assert not any(info.get(k) for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    assert next(reloaded.parameters()).dtype == torch.float32
    with torch.no_grad():
        again = reloaded(pixel_values).last_hidden_state
    assert torch.equal(again, out), (again - out).abs().max()
    sdpa = ViTModel.from_pretrained(MODEL_DIR, add_pooling_layer=False).eval()  # FYI only
    with torch.no_grad():
        sdpa_diff = (sdpa(pixel_values).last_hidden_state - out).abs().max().item()

    expected_back = load_file(str(HERE / "expected.safetensors"))
    assert all(t.dtype == torch.float32 for t in expected_back.values())
    assert torch.equal(expected_back["last_hidden_state"], out)

    sizes = {"model/config.json": (MODEL_DIR / "config.json").stat().st_size,
             "model/model.safetensors": (MODEL_DIR / "model.safetensors").stat().st_size,
             "expected.safetensors": (HERE / "expected.safetensors").stat().st_size}
    config = json.loads((MODEL_DIR / "config.json").read_text())
    print(f"loss {loss.item():.6f}; reload exact (eager); plain-torch reference max |diff| "
          f"{ref_diff:.2e} (grads {grad_diff:.2e}); default attention max |diff| {sdpa_diff:.2e}")
    for name, key, shape in params:
        print(f"  {name} -> {key} {list(shape)}")
    for f, s in sizes.items():
        print(f"  {f}: {s} bytes")
    write_readme(config, params, sizes, loss.item(), ref_diff, grad_diff, sdpa_diff)


def write_readme(config, params, sizes, loss, ref_diff, grad_diff, sdpa_diff):
    lines = [
        "# ViT golden files",
        "",
        "A tiny randomly initialised `ViTModel(config, add_pooling_layer=False)` (float32, eager",
        "attention) and what Hugging Face `transformers` computes with it; made by",
        "`make_vit_fixture.py` in this folder (see its docstring), run with the bench venv:",
        "`.cache/bench-venv/bin/python Tests/GRLHFTests/Fixtures/vit/make_vit_fixture.py`.",
        f"Versions: transformers {transformers.__version__}, torch {torch.__version__}, "
        f"safetensors {safetensors.__version__}.",
        "",
        "Config: image 16x16, patch 4 (4x4 grid = 16 patches, 17 tokens with CLS), 3 channels,",
        "hidden 32, 2 layers, 4 heads (head_dim 8), intermediate 64, `gelu_pytorch_tanh`,",
        "layer_norm_eps 1e-12, qkv_bias true, dropout 0. torch.manual_seed(0); every parameter",
        "re-drawn from N(0, 0.1^2), LayerNorm weights from 1 + N(0, 0.1^2).",
        "",
        "- `model/config.json`, `model/model.safetensors`: `save_pretrained(model/, "
        "safe_serialization=True)`.",
        "- `expected.safetensors` (all F32): `pixel_values` [2,3,16,16] (uniform in [-1,1),",
        "  generator seed 1234), `last_hidden_state` [2,17,32], `loss` [] =",
        "  `last_hidden_state.pow(2).mean()`, and `grad.<key>` for every parameter, where `<key>`",
        "  is the parameter's key in `model/model.safetensors` (left column below).",
        "",
        f"loss {loss:.6f}. Files: " + ", ".join(f"`{k}` {v} B" for k, v in sizes.items()) + ".",
        "",
        "## Key names: file vs. module (transformers 5)",
        "",
        "transformers 5 restructured ViT's modules (`layers.N.attention.q_proj`, `o_proj`,",
        "`mlp.fc1`, `mlp.fc2`), but `save_pretrained` converts back to the v4 / Hub checkpoint",
        "names, and `from_pretrained` converts them forward again (`conversion_mapping.py`). So",
        "`model.safetensors` uses the same names as real Hub ViT checkpoints (a",
        "`ViTForImageClassification` checkpoint prefixes them with `vit.`; a Hub `ViTModel`",
        "usually also carries `pooler.dense.*`, absent here). File key, `named_parameters()`",
        "name, shape:",
        "",
        "```",
    ]
    width = max(len(k) for _, k, _ in params)
    lines += [f"{key:<{width}}  {name}  {list(shape)}" for name, key, shape in params]
    lines += [
        "```",
        "",
        "## Computation order (HF `modeling_vit.py`, eager)",
        "",
        "With x = pixel_values [N,3,16,16], p = 4, d = 32, heads 4, hd = 8 (file key names):",
        "",
        "1. Patch embedding: `projection` is Conv2d(kernel = stride = p) = a matmul over each",
        "   patch flattened in (C, p, p) order: patch[n, i*4+j, c*16+u*4+v] =",
        "   x[n, c, 4i+u, 4j+v]; emb = patch @ W.reshape(32, 48)^T + b. Patches are row-major",
        "   (i = grid row, j = grid column): conv output [N,32,4,4] -> flatten(2) -> transpose.",
        "2. Prepend `cls_token` [1,1,32] -> [N,17,32] (CLS at position 0).",
        "3. Add `position_embeddings` [1,17,32] (row 0 goes with CLS). Dropout p = 0.",
        "4. Each layer (pre-LN):",
        "   - h = `layernorm_before`(x)",
        "   - q, k, v = Linear `attention.attention.{query,key,value}`(h) (with bias), split into",
        "     4 heads of 8 (head k = features 8k..8k+7)",
        "   - a = softmax(q k^T / sqrt(8)) over keys (softmax in float32), no mask (bidirectional,",
        "     all 17 tokens); o = a v, heads concatenated back to 32",
        "   - x = x + `attention.output.dense`(o)",
        "   - h = `layernorm_after`(x)",
        "   - x = x + `output.dense`(gelu_tanh(`intermediate.dense`(h))), with gelu_tanh(u) =",
        "     0.5 u (1 + tanh(sqrt(2/pi) (u + 0.044715 u^3))) (torch gelu approximate='tanh')",
        "5. last_hidden_state = final `layernorm`(x). (No pooler: add_pooling_layer=False.)",
        "",
        "LayerNorm: (x - mean) / sqrt(var_biased + 1e-12) * weight + bias over the 32 features.",
        "",
        "## Checks made by the script",
        "",
        f"- A plain-torch re-implementation of the steps above, run on the file's tensors, agrees",
        f"  with HF: output max |diff| {ref_diff:.1e}, gradients max |diff| {grad_diff:.1e}.",
        "- `ViTModel.from_pretrained(model/, add_pooling_layer=False, attn_implementation=\"eager\")`",
        "  loads with no missing/unexpected keys and reproduces `last_hidden_state` bit for bit;",
        f"  the default (sdpa) attention differs by at most {sdpa_diff:.1e}.",
        "- `interpolate_pos_encoding=True` gives the identical output at the native 16x16 size",
        "  (it only resamples, bicubically, when the patch count or aspect differs). With the",
        "  default (None/False), any other image size raises a ValueError.",
        "",
        "config.json keys: " + ", ".join(f"`{k}`" for k in sorted(config)) + ".",
        "",
    ]
    (HERE / "README.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
