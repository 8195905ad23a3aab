#!/usr/bin/env python3
"""llama.cpp's own logits and token ids for the SmolLM2 reference prompts: the third-party check
beside scripts/gguf_reference.py's numpy forward. llama.cpp (llama-cpp-python 0.3.36, built by
benchmarks/setup_llama_venv.sh) runs the float32 copy of the GGUF (scripts/gguf_f32_copy.py) with
a float32 KV cache, so neither weights nor cached keys are rounded; its tokenizer encodes each
prompt's rendered text. For the positions the numpy fixture lists it records llama.cpp's top-5
ids and logits, and the whole row's largest |logit|. It also runs the Q4_1 file itself (weights
as stored, activations rounded to 8 bits as llama.cpp's quantized kernels do) and records that
run's logits for the same five ids: how far llama.cpp's own quantized decode strays from the
float32 result, the bar grlhf's quantized kernels are held to.

Not run by the tests. It writes the fixture Tests/GRLHFTests/SmolLM2Tests.swift checks:

    bash benchmarks/setup_llama_venv.sh
    .cache/llama-venv/bin/python scripts/gguf_f32_copy.py .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf .cache/models/SmolLM2-135M-Instruct.F32.gguf
    .cache/llama-venv/bin/python scripts/llamacpp_reference.py .cache/models/SmolLM2-135M-Instruct.F32.gguf \
        Tests/GRLHFTests/Fixtures/gguf/smollm2_reference.json Tests/GRLHFTests/Fixtures/gguf/smollm2_llamacpp.json
"""
import json
import sys

import llama_cpp
import numpy as np
from llama_cpp import Llama


def load(path: str) -> Llama:
    return Llama(model_path=path, n_ctx=512, n_batch=512, n_threads=2, logits_all=True, verbose=False,
                 type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32)


def main(model: str, numpy_fixture: str, out: str) -> None:
    reference = json.load(open(numpy_fixture))
    llm, q41 = load(model), load(model.replace(".F32.gguf", ".Q4_1.gguf"))
    cases = []
    for case in reference["cases"]:
        ids = llm.tokenize(case["rendered"].encode(), add_bos=False, special=True)
        llm.reset()
        llm.eval(case["ids"])
        q41.reset()
        q41.eval(case["ids"])
        rows = []
        for row in case["positions"]:
            logits = np.array(llm.scores[row["position"]], dtype=np.float64)
            top = np.argsort(-logits)[:5]
            rows.append({"position": row["position"], "top5_ids": top.tolist(), "top5_logits": logits[top].tolist(),
                         "max_abs_logit": float(np.abs(logits).max()),
                         "q4_1_top5_logits": np.array(q41.scores[row["position"]], dtype=np.float64)[top].tolist()})
        cases.append({"text": case["text"], "llamacpp_ids": ids, "positions": rows})
    fixture = {"model": "SmolLM2-135M-Instruct.Q4_1.gguf, as the float32 copy of scripts/gguf_f32_copy.py",
               "made_by": f"scripts/llamacpp_reference.py (llama-cpp-python {llama_cpp.__version__}, float32 KV cache)",
               "cases": cases}
    with open(out, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
