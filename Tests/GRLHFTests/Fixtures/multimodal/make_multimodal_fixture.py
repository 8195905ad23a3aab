"""A tiny multimodal (LLaVA-shaped) model fixture, made offline with the Hugging Face `tokenizers`
package (no downloads):

    python make_multimodal_fixture.py      # writes config.json and tokenizer.json here

  tokenizer.json  the smollm2 fixture tokenizer (../tokenizer/smollm2, byte-level BPE, 400 tokens)
                  plus the added special token "<image>" (id 400).
  config.json     model_type "llava": a ViT of 16x16 images in 4x4 patches (16 image tokens per
                  image, width 32, one layer), a two-layer Llama decoder of width 32, vocabulary
                  = the tokenizer's 401 ids, image_token_index = the id of "<image>".

No weights are committed: tests build them at test time (`grlhf init-model --config config.json`,
grlhf_model_init, grlhf.Model.init), seeded, so every run sees the same model.
"""
import json
import os

from tokenizers import AddedToken, Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
SMOLLM2 = os.path.join(HERE, "..", "tokenizer", "smollm2", "tokenizer.json")


def make():
    tok = Tokenizer.from_file(SMOLLM2)
    tok.add_special_tokens([AddedToken("<image>", special=True, normalized=False)])
    tok.save(os.path.join(HERE, "tokenizer.json"), pretty=False)
    image = tok.token_to_id("<image>")
    assert tok.encode("<image>\nwhat shape?", add_special_tokens=False).ids[0] == image
    config = {
        "model_type": "llava",
        "image_token_index": image,
        "projector_hidden_act": "gelu_pytorch_tanh",
        "text_config": {
            "model_type": "llama", "vocab_size": tok.get_vocab_size(with_added_tokens=True),
            "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
            "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 512,
            "tie_word_embeddings": False, "hidden_act": "silu",
        },
        "vision_config": {
            "image_size": 16, "patch_size": 4, "num_channels": 3, "hidden_size": 32,
            "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
            "layer_norm_eps": 1e-12, "qkv_bias": True, "hidden_act": "gelu_pytorch_tanh",
        },
        "image_preprocessor": {"size": 16, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
    }
    with open(os.path.join(HERE, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    print(f"wrote config.json and tokenizer.json (<image> = {image})")


if __name__ == "__main__":
    make()
