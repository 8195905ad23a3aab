"""PyTorch + transformers' side of the alignment benchmark (benchmarks/alignment.sh).

The same steps as grlhf's `AlignmentBenchmark`, on a randomly initialized LlamaForCausalLM of
the same shape (float32, eager attention), best of 3 after a warm-up:
- SFT: a batch of rows of random tokens (prompt + response), loss on the response tokens,
  backward, gradient clipping at 1, AdamW.
- GRPO: for each prompt (lengths taken from grlhf's JSON row so both sides see the same token
  counts), a group of completions sampled with generate() at temperature 1 over the full
  vocabulary and a fixed length; per-token log-probs of the completions under the policy (no
  grad, pi_old) and a frozen reference; then one update: clipped surrogate + 0.02 k3 KL,
  token mean, backward, clipping, AdamW. As in grlhf, only the positions that predict
  completion tokens go through the LM head.
    .cache/bench-venv/bin/python benchmarks/alignment_torch.py --grlhf '<grlhf json line>'
"""
import argparse
import copy
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
p.add_argument("--grlhf", required=True, help="grlhf's JSON result line, whose sizes are reused")
a = p.parse_args()
g = json.loads(a.grlhf)
torch.set_num_threads(g["threads"])
torch.manual_seed(0)
config = LlamaConfig(**SHAPES[g["model"]], attn_implementation="eager")
V = config.vocab_size


def best_of(fn, repeats=3):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def completion_logprobs(model, ids, positions, targets):
    """log p(target) at each (row, position) that predicts a completion token."""
    hidden = model.model(input_ids=ids).last_hidden_state          # [B, T, H]
    rows = hidden[positions[0], positions[1]]                       # [N, H]
    return torch.log_softmax(model.lm_head(rows), dim=-1).gather(1, targets[:, None])[:, 0]


# SFT
model = LlamaForCausalLM(config).train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
B, T = g["sft_batch"], g["sft_length"]
ids = torch.randint(0, V, (B, T))
labels = ids.clone()
labels[:, : T // 2] = -100


def sft_step():
    loss = model(input_ids=ids, labels=labels).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)


sft = best_of(sft_step)

# GRPO
policy = LlamaForCausalLM(config)
reference = copy.deepcopy(policy).eval().requires_grad_(False)
opt = torch.optim.AdamW(policy.parameters(), lr=1e-6, weight_decay=0.01)
G, N = g["grpo_group"], g["grpo_new_tokens"]
prompts = [torch.randint(0, V, (1, n)) for n in g["grpo_prompt_tokens"]]
rollout_time = []


def grpo_step():
    t0 = time.perf_counter()
    sequences = []
    policy.eval()
    with torch.inference_mode():
        for prompt in prompts:
            out = policy.generate(prompt.repeat(G, 1), do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                                  max_new_tokens=N, min_new_tokens=N, pad_token_id=0)
            rewards = (out[:, prompt.shape[1]:] % 7 == 0).sum(1).float()        # a stand-in reward
            adv = (rewards - rewards.mean()) / (rewards.std() + 1e-6)
            sequences += [(row, prompt.shape[1], a) for row, a in zip(out, adv)]
    rollout_time.append(time.perf_counter() - t0)
    policy.train()
    width = max(len(s) for s, _, _ in sequences)
    batch = torch.zeros(len(sequences), width, dtype=torch.long)
    rows, cols, targets, advantages = [], [], [], []
    for i, (s, n_prompt, a) in enumerate(sequences):
        batch[i, : len(s)] = s
        for t in range(n_prompt, len(s)):
            rows.append(i); cols.append(t - 1); targets.append(int(s[t])); advantages.append(float(a))
    positions = (torch.tensor(rows), torch.tensor(cols))
    targets, advantages = torch.tensor(targets), torch.tensor(advantages)
    with torch.no_grad():
        old = completion_logprobs(policy, batch, positions, targets)
        ref = completion_logprobs(reference, batch, positions, targets)
    logp = completion_logprobs(policy, batch, positions, targets)
    ratio = torch.exp(logp - old)
    surrogate = -torch.min(ratio * advantages, ratio.clamp(0.8, 1.2) * advantages)
    d = ref - logp
    loss = (surrogate + 0.02 * (torch.exp(d) - d - 1)).mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)


grpo = best_of(grpo_step)
tokens = G * (sum(g["grpo_prompt_tokens"]) + len(prompts) * N)
print(json.dumps({"impl": "pytorch", "model": g["model"], "threads": g["threads"],
                  "sft_ms_per_step": sft * 1000, "sft_tokens_per_s": B * T / sft,
                  "grpo_ms_per_step": grpo * 1000, "grpo_rollout_ms": min(rollout_time) * 1000,
                  "grpo_tokens_per_s": tokens / grpo}))
