"""transformers' side of the generation benchmark (benchmarks/generation.sh).

A randomly initialized LlamaForCausalLM of the same shape as grlhf's `GenerationBenchmark`
("small": 4 layers, d=256, 4 heads, vocab 2048; "smollm2-135m": 30 layers, d=576, 9 heads,
3 KV heads, vocab 49152, tied), float32, eager attention. Best of 3: prefill of a 64-token prompt
(one forward); greedy decode of 32 tokens with the KV cache (generate() time minus prefill),
single stream and as 8 sequences of the same prompt (num_return_sequences is not used for
greedy: the prompt is repeated 8 times in the batch).
    .cache/bench-venv/bin/python benchmarks/generation_transformers.py --shape small --threads 1
"""
import argparse
import json
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

SHAPES = {
    "small": dict(vocab_size=2048, hidden_size=256, intermediate_size=1024, num_hidden_layers=4,
                  num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024),
    "smollm2-135m": dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=2048,
                         tie_word_embeddings=True),
}

p = argparse.ArgumentParser()
p.add_argument("--shape", default="small", choices=SHAPES)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--prompt", type=int, default=64)
p.add_argument("--new", type=int, default=32)
p.add_argument("--group", type=int, default=8)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
config = LlamaConfig(**SHAPES[a.shape], attn_implementation="eager")
model = LlamaForCausalLM(config).eval()
prompt = torch.randint(0, config.vocab_size, (1, a.prompt))


def seconds(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def generate(ids):
    model.generate(ids, max_new_tokens=a.new, min_new_tokens=a.new, do_sample=False, pad_token_id=0)


prefill = single = grouped = float("inf")
with torch.inference_mode():
    for _ in range(3):
        prefill = min(prefill, seconds(lambda: model(prompt)))
        single = min(single, seconds(lambda: generate(prompt)))
        grouped = min(grouped, seconds(lambda: generate(prompt.repeat(a.group, 1))))
print(json.dumps({"impl": "transformers", "model": a.shape, "threads": a.threads, "group": a.group,
                  "prefill_tokens_per_s": a.prompt / prefill, "decode_tokens_per_s": a.new / (single - prefill),
                  "group_tokens_per_s": a.group * a.new / (grouped - prefill)}))
