"""llama.cpp's side of benchmarks/decode.sh (through llama-cpp-python): prefill tokens/s of a
random prompt and single-stream greedy decode tokens/s with its KV cache, best of --repeats,
as one JSON line shaped like `grlhf bench --generation FILE.gguf --json`."""
import argparse
import json
import os
import time

import numpy as np
from llama_cpp import Llama


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--prompt", type=int, default=64)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    llm = Llama(model_path=a.model, n_ctx=a.prompt + a.new_tokens + 8, n_batch=a.prompt, n_threads=a.threads,
                n_threads_batch=a.threads, verbose=False)
    prompt = np.random.default_rng(2).integers(0, llm.n_vocab(), a.prompt).tolist()
    # The last position's logits, read from the context (llama-cpp-python keeps them only with logits_all).
    last = lambda: np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))
    prefill = decode = float("inf")
    for _ in range(a.repeats):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        t1 = time.perf_counter()
        for _ in range(a.new_tokens):  # greedy: the argmax of the last logits, one token at a time
            llm.eval([int(np.argmax(last()))])
        t2 = time.perf_counter()
        prefill, decode = min(prefill, t1 - t0), min(decode, t2 - t1)
    print(json.dumps({"impl": "llama.cpp", "model": os.path.basename(a.model), "threads": a.threads,
                      "prefill_tokens_per_s": a.prompt / prefill, "decode_tokens_per_s": a.new_tokens / decode}, sort_keys=True))


if __name__ == "__main__":
    main()
