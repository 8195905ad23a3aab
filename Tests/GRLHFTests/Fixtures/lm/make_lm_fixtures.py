"""Golden files for grlhf's Llama / Qwen2 decoder, computed by Hugging Face `transformers`.

Builds two tiny randomly initialised causal LMs from configs (no weights are downloaded):
LlamaForCausalLM (untied lm_head, no biases) and Qwen2ForCausalLM (tied embeddings, q/k/v
biases), both float32 with eager attention: hidden 64, intermediate 128, 2 layers, 4 query
heads, 2 key/value heads (GQA), head_dim 16, vocab 128, rms_norm_eps 1e-6, rope_theta 1e4.
Every parameter is re-drawn from N(0, 0.1^2) (RMSNorm weights from 1 + N(0, 0.1^2)) so that
nothing is trivially zero or one. For each model, <name>/ receives:

  config.json, model.safetensors   model.save_pretrained(dir, safe_serialization=True)
                                   (generation_config.json is removed; with tied embeddings
                                   HF omits lm_head.weight)
  expected.safetensors (all F32):
    input_ids  [2, 12]       the batch, token ids stored as exact floats (same for both models)
    logits     [2, 12, 128]  model(input_ids).logits
    loss       []            model(input_ids, labels=input_ids).loss, i.e. the mean
                             cross-entropy of logits[:, :-1] against input_ids[:, 1:]
    greedy     [1, 8]        the 8 new tokens of model.generate(input_ids[:1],
                             max_new_tokens=8, do_sample=False) (eos stopping disabled)
    grad.<p>   every parameter's gradient of that loss, <p> as in model.named_parameters()
                             (a tied weight appears once, as model.embed_tokens.weight)

It also writes README.md next to this script (versions, configs, parameter names/shapes),
then reloads each directory with AutoModelForCausalLM.from_pretrained and checks that the
logits reproduce bit for bit.

Run with the benchmark venv (benchmarks/setup_torch_venv.sh installs transformers into it);
neither torch nor transformers is needed by the Swift tests themselves:
    .cache/bench-venv/bin/python Tests/GRLHFTests/Fixtures/lm/make_lm_fixtures.py
"""
import json
import pathlib

import torch
import transformers
from safetensors.torch import save_file
from transformers import (AutoModelForCausalLM, GenerationConfig, LlamaConfig, LlamaForCausalLM,
                          Qwen2Config, Qwen2ForCausalLM)

HERE = pathlib.Path(__file__).resolve().parent
B, T, NEW = 2, 12, 8
COMMON = dict(
    hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=2, head_dim=16, vocab_size=128, max_position_embeddings=64,
    rms_norm_eps=1e-6, rope_theta=10000.0, dtype="float32", attn_implementation="eager",
)
MODELS = {
    "llama": (LlamaConfig, LlamaForCausalLM,
              dict(tie_word_embeddings=False, attention_bias=False, mlp_bias=False), 0),
    # Seed 32: with tied embeddings greedy decoding tends to repeat one token forever (the
    # logit of the current token includes |e_t|^2); this seed gives a varied continuation.
    "qwen2": (Qwen2Config, Qwen2ForCausalLM, dict(tie_word_embeddings=True), 32),
}
MIN_MARGIN = 0.01  # every greedy step's top-1 minus top-2 logit, so float noise cannot flip it


def build(config_cls, model_cls, extra, seed):
    torch.manual_seed(seed)
    config = config_cls(**COMMON, **extra)
    model = model_cls(config).to(torch.float32).eval()
    assert model.config._attn_implementation == "eager"
    with torch.no_grad():
        for name, p in model.named_parameters():  # tied weights are listed (and drawn) once
            p.copy_(torch.randn_like(p) * 0.1 + (1.0 if name.endswith("norm.weight") else 0.0))
    return model


def greedy_by_hand(model, ids, n):
    """Argmax continuation from full forwards (no KV cache), to cross-check generate();
    also returns the smallest top-1 minus top-2 logit margin over the steps."""
    margin = float("inf")
    with torch.no_grad():
        for _ in range(n):
            top = model(ids).logits[:, -1].topk(2, dim=-1)
            margin = min(margin, (top.values[:, 0] - top.values[:, 1]).min().item())
            ids = torch.cat([ids, top.indices[:, :1]], dim=1)
    return ids, margin


def main():
    gen = torch.Generator().manual_seed(1234)
    input_ids = torch.randint(0, COMMON["vocab_size"], (B, T), generator=gen)
    readme_models = []
    for name, (config_cls, model_cls, extra, seed) in MODELS.items():
        out = HERE / name
        out.mkdir(exist_ok=True)
        model = build(config_cls, model_cls, extra, seed)
        tied = model.lm_head.weight is model.model.embed_tokens.weight
        assert tied == extra["tie_word_embeddings"], name

        model.save_pretrained(out, safe_serialization=True)
        (out / "generation_config.json").unlink(missing_ok=True)

        with torch.no_grad():
            logits = model(input_ids).logits.float()
        model.zero_grad(set_to_none=True)
        loss = model(input_ids, labels=input_ids).loss
        loss.backward()
        manual = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), input_ids[:, 1:].reshape(-1))
        assert torch.allclose(manual, loss.detach(), rtol=1e-6, atol=1e-6), (manual, loss)

        # eos_token_id=None: always 8 tokens, even if the (Llama default) eos id 2 comes up.
        gcfg = GenerationConfig(max_new_tokens=NEW, do_sample=False, eos_token_id=None,
                                pad_token_id=0, bos_token_id=None)
        with torch.no_grad():
            full = model.generate(input_ids[:1], generation_config=gcfg)
        greedy = full[:, T:]
        assert greedy.shape == (1, NEW), greedy.shape
        by_hand, margin = greedy_by_hand(model, input_ids[:1], NEW)
        assert torch.equal(full, by_hand), name
        assert margin > MIN_MARGIN, (name, margin)

        tensors = {"input_ids": input_ids.float(), "logits": logits.contiguous(),
                   "loss": loss.detach().float().reshape(()), "greedy": greedy.float()}
        params = []
        for pname, p in model.named_parameters():
            assert p.dtype == torch.float32 and p.grad is not None, pname
            tensors["grad." + pname] = p.grad.detach().clone().contiguous()
            params.append((pname, tuple(p.shape)))
        save_file(tensors, str(out / "expected.safetensors"))

        # Reload from disk: eager attention must reproduce the logits exactly.
        reloaded = AutoModelForCausalLM.from_pretrained(out, attn_implementation="eager").eval()
        assert type(reloaded) is model_cls and next(reloaded.parameters()).dtype == torch.float32
        with torch.no_grad():
            again = reloaded(input_ids).logits
        assert torch.equal(again, logits), (name, (again - logits).abs().max())
        if tied:
            assert reloaded.lm_head.weight is reloaded.model.embed_tokens.weight
        sdpa = AutoModelForCausalLM.from_pretrained(out).eval()  # default attention, FYI only
        with torch.no_grad():
            sdpa_diff = (sdpa(input_ids).logits - logits).abs().max().item()

        sizes = {f.name: f.stat().st_size for f in sorted(out.iterdir())}
        config = json.loads((out / "config.json").read_text())
        print(f"== {name}: loss {loss.item():.6f}, greedy {greedy[0].tolist()} (min margin {margin:.4f}), "
              f"tied {tied}, reload exact (eager), default-attention max |diff| {sdpa_diff:.2e}")
        print("   config keys:", ", ".join(sorted(config)))
        for pname, shape in params:
            print(f"   {pname} {list(shape)}")
        for fname, size in sizes.items():
            print(f"   {name}/{fname}: {size} bytes")
        print(f"   {name}/ total: {sum(sizes.values())} bytes")
        readme_models.append((name, config, params, sizes, loss.item(), greedy[0].tolist(), margin,
                              tied))

    write_readme(input_ids, readme_models)


def write_readme(input_ids, models):
    lines = [
        "# Llama / Qwen2 golden files",
        "",
        "Tiny randomly initialised `LlamaForCausalLM` and `Qwen2ForCausalLM` (float32, eager",
        "attention) and what Hugging Face `transformers` computes with them; made by",
        "`make_lm_fixtures.py` in this folder (see its docstring), run with the bench venv:",
        "`.cache/bench-venv/bin/python Tests/GRLHFTests/Fixtures/lm/make_lm_fixtures.py`.",
        f"Versions: transformers {transformers.__version__}, torch {torch.__version__}.",
        "",
        "Each of `llama/` and `qwen2/` holds `config.json` + `model.safetensors` (from",
        "`save_pretrained`) and `expected.safetensors` (all F32): `input_ids` [2,12] (exact",
        "floats, same batch for both), `logits` [2,12,128], `loss` [] (HF shifts labels: mean CE",
        "of logits[:, :-1] vs ids[:, 1:]), `greedy` [1,8] (new tokens of greedy `generate` on",
        "row 0, no eos stop; equal to argmax over full forwards), `grad.<param>` for every",
        "parameter of `named_parameters()`.",
        "Parameters were re-drawn from N(0, 0.1^2); RMSNorm weights from 1 + N(0, 0.1^2).",
        "",
        f"input_ids: {input_ids.tolist()}",
        "",
        "RoPE: HF uses the half-split (`rotate_half`) convention, not interleaved pairs: for",
        "head_dim d, inv_freq[i] = theta^(-2i/d) for i < d/2, cos/sin of (pos * inv_freq)",
        "are concatenated twice to length d, and x' = x*cos + rotate_half(x)*sin with",
        "rotate_half(x) = cat(-x[d/2:], x[:d/2]). Positions are 0..T-1 (no padding).",
        "Attention: q heads 4, kv heads 2 (each kv head serves 2 consecutive q heads,",
        "`repeat_kv`), scale 1/sqrt(head_dim), causal mask. RMSNorm: x * rsqrt(mean(x^2) + eps)",
        "computed in float32, then * weight. MLP: down(silu(gate(x)) * up(x)).",
        "",
        "Note: transformers 5 writes rope_theta inside `rope_parameters`",
        '(`{"rope_theta": 10000.0, "rope_type": "default"}`), not as a top-level',
        "`rope_theta` key as older (v4) Hub configs do; a loader should accept both.",
        "",
    ]
    for name, config, params, sizes, loss, greedy, margin, tied in models:
        lines += [f"## {name}", "",
                  f"tie_word_embeddings={tied}; loss {loss:.6f}; greedy {greedy} (smallest top-2 "
                  f"logit margin {margin:.4f}); "
                  f"files: " + ", ".join(f"{k} {v} B" for k, v in sizes.items()) + ".", "",
                  "config.json keys: " + ", ".join(f"`{k}`" for k in sorted(config)) + ".", "",
                  "```"]
        lines += [f"{pname} {list(shape)}" for pname, shape in params]
        lines += ["```", ""]
    (HERE / "README.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
