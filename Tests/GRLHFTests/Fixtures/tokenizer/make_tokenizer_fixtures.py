"""Tokenizer fixtures for Tests/GRLHFTests/TokenizerTests.swift, made offline with the Hugging Face
`tokenizers` package (no downloads).

    python make_tokenizer_fixtures.py                  # writes gpt2/, qwen2/, smollm2/
    python make_tokenizer_fixtures.py --check-saved D  # checks a grlhf-saved tokenizer (see below)
    python make_tokenizer_fixtures.py --parity-corpus T D  # random-text parity data for any T

Each folder holds a byte-level BPE `tokenizer.json` trained by `tokenizers` on CORPUS (vocab 400,
special tokens <|endoftext|>, <|im_start|>, <|im_end|>) and `expected.json`: for every test string,
the ids of `encode(text, add_special_tokens=False)`, the decoded text (with and without special
tokens), plus decodes of id slices that cut multi-byte characters, and a few encodes with
`add_special_tokens=True`.

  gpt2     ByteLevel(use_regex) pre-tokenizer (GPT-2), an added token with lstrip/rstrip,
           one with single_word.
  qwen2    NFC normalizer; Sequence[Split(Qwen2 regex, Isolated), Digits(individual),
           ByteLevel(use_regex=False)]; ignore_merges; a TemplateProcessing post-processor that
           prepends <|im_start|>; a non-special added token <think>.
  smollm2  Sequence[Digits(individual), ByteLevel(use_regex)] as SmolLM2 ships it.

--parity-corpus T D: writes D/tokenizer.json (a copy of T) and D/cases.json, 3000 random strings
and a ~100 KB text with the ids `tokenizers` gives; the Swift test `externalParity` compares
(GRLHF_TOKENIZER_PARITY=D swift test --filter externalParity). Use it with real models' files.

--check-saved D: D holds tokenizer.json and swift_ids.json ({"cases": [{"text", "ids"}]}) written
by the Swift test `trainerExport` when GRLHF_TOKENIZER_EXPORT=D. The tokenizer must load with
`Tokenizer.from_file` and reproduce every id list; the script also trains `tokenizers`' own
BpeTrainer on D/corpus.json with the same settings and reports whether the merges agree.
"""
import json
import os
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
from tokenizers import pre_tokenizers, processors, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
QWEN2_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                 r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")

CORPUS = [
    "The quick brown fox jumps over the lazy dog. The dog didn't care; it's been lazy all day.",
    "We're going to the market, and they'll buy apples, pears and 12 oranges for $3.50 each.",
    "I'm sure you've seen it before: the the the and and and of of of to to to in in in.",
    "Reinforcement learning from human feedback aligns a language model with what people prefer.",
    "A reward model scores each response; the policy is then optimized with PPO or GRPO.",
    "Generative reward models judge pairs of responses and explain their verdicts in words.",
    "In 2024, about 1,234,567 people visited; 89.5% of them came back in 2025 (up from 76%).",
    "Call 555-0123 or +1 (800) 555-0199 before 10:30pm on 2025-03-14.",
    "Pi is roughly 3.14159265358979 and e is about 2.71828182845904; 0x1F is 31; 1e-9 is tiny.",
    "def encode(self, text):\n    ids = []\n    for word in text.split():\n        ids.append(self.vocab[word])\n    return ids\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}\nreturn sum;\n",
    "let tokens = tokenizer.encode(\"hello, world\")\nprint(tokens.count) // 3\n",
    "if x != y && (z >= 10 || w <= -5) { return [1, 2, 3].map { $0 * 2 } }",
    "Café, naïve, résumé, façade, jalapeño, Zürich, Ångström, Łódź, Þórr, smörgåsbord.",
    "Le cœur a ses raisons que la raison ne connaît point. Où est la bibliothèque ?",
    "Übermäßig große Straßen führen zu ärgerlichen Staus; die Größe zählt.",
    "¿Dónde está el baño? ¡Qué día tan bonito! El niño comió piña.",
    "Москва — столица России. Привет, как дела? Ελληνικά γράμματα: αβγδε.",
    "机器学习是人工智能的一个分支。我们今天学习分词器。中文没有空格分隔单词。",
    "日本語のテキストも少し含めます。ひらがなとカタカナと漢字。東京は大きい都市です。",
    "한국어 문장도 있습니다. 안녕하세요, 만나서 반갑습니다.",
    "Emoji: 😀 😃 😄 🎉🎉 👍🏽 👨‍👩‍👧‍👦 🇫🇷 🇯🇵 ❤️ ✨ 🚀 and more 🤖!",
    "Whitespace   runs    of   spaces,\ttabs\t\tand\n\nblank lines\n\n\nand trailing spaces   \n",
    "Windows line endings\r\nare here\r\n\r\nand a form\x0cfeed and a vertical\x0btab.",
    "    indented code block\n        deeper indentation\n    back\n",
    "Punctuation!!! Really??? Yes... (maybe) [or not] {who knows} <tags/> #hash @user ~tilde~",
    "\"Quoted text\" and 'single quotes' and `backticks` and «guillemets» and “curly quotes”.",
    "Math: a^2 + b^2 = c^2, ∑ x_i, ∫ f(x) dx, √2 ≈ 1.414, ∞ ≠ 0, α → β.",
    "URLs like https://example.com/path?query=1&x=2#frag and emails like a.b@example.org.",
    "<|im_start|>user\nWhat is in the image?<|im_end|>\n<|im_start|>assistant\nA red circle.<|im_end|>\n",
    "The model said: <|endoftext|> and then stopped. Tokens like <|im_end|> are special.",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 100 1000 10000 123456789 007 3.0 -42 +7",
    "Mixed: abc123def 4ever x86_64 arm64 utf-8 UTF8 iPhone15 COVID-19 Web3.0",
    "CONTRACTIONS: DON'T WON'T CAN'T I'LL WE'D THEY'RE YOU'VE SHE'S I'M",
    "She'd said they'd've gone; it's the dog's bone, not the cats' toys.",
]

TESTS = [
    "Hello world",
    "hello world",
    " leading space",
    "trailing space ",
    "  two leading and two trailing  ",
    "\n\n",
    "a\n\nb",
    "tabs\there\t\tand\tthere",
    "12345",
    "3.14159 and 2,718,281",
    "don't",
    "I'll be there, won't you? They'RE here.",
    "DON'T SHOUT",
    "Café naïve résumé",
    "e\u0301 combining acute vs \u00e9 precomposed",
    "機械学習と自然言語処理",
    "Привет мир",
    "mixed English, 中文, русский, العربية, and हिन्दी",
    "emoji 😀👍🏽🎉 family 👨‍👩‍👧‍👦 flag 🇯🇵",
    "<|im_start|>user\nhi<|im_end|>",
    "text<|endoftext|>more text",
    "<|im_end|><|im_end|>",
    "a<|im_start|>",
    "<|im_start",
    "unseen words: xylophone quizzical zephyr jackdaw",
    "def f(x):\n    return x ** 2\n",
    "if (a && b) { c(); }\r\n",
    "   ",
    " ",
    "",
    "x",
    "!!!???...",
    "line one\nline two\n\n\nline five   \n  ",
    "\u3000ideographic space\u00a0nbsp\u2028line sep",
    "it's he'd we've you're I'm they'll she's",
    "The year 2025 and 1999 and 0042",
    "$100.00 or €85,50 or ¥1000",
    "x\x0by\x85z\x1cw",
    "ſ 's vs 'ſ and 'S",
    "\t\tindent\n\t\t\tmore",
    "a  <mask>  b <think> c",
    "sw swx xsw sw.",
    "NFC: A\u030a \u212b q\u0307\u0323 \u1100\u1161 \U0001d400\u0301 \U000501b0\u0301",
]


def trained(pre_tokenizer, normalizer=None):
    tok = Tokenizer(models.BPE())
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, min_frequency=2, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def expected(tok, with_special_texts=()):
    cases = []
    for text in TESTS:
        ids = tok.encode(text, add_special_tokens=False).ids
        cases.append({"text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False),
                      "decoded_skip_special": tok.decode(ids, skip_special_tokens=True)})
    # Slices that cut multi-byte characters: decoding must give U+FFFD, exactly as tokenizers.
    partial = []
    for text in ["emoji 😀👍🏽🎉 family 👨‍👩‍👧‍👦", "機械学習と自然言語処理", "Café naïve"]:
        ids = tok.encode(text, add_special_tokens=False).ids
        for a, b in [(0, len(ids) - 1), (1, len(ids)), (len(ids) // 3, 2 * len(ids) // 3)]:
            partial.append({"ids": ids[a:b], "decoded": tok.decode(ids[a:b], skip_special_tokens=False)})
    special = []
    for text in with_special_texts:
        special.append({"text": text, "ids": tok.encode(text, add_special_tokens=True).ids})
    return {"cases": cases, "partial": partial, "with_special_tokens": special}


def write(name, tok, with_special_texts=()):
    folder = os.path.join(HERE, name)
    os.makedirs(folder, exist_ok=True)
    tok.save(os.path.join(folder, "tokenizer.json"), pretty=False)
    # Reload so the expectations come from exactly the file the Swift test reads.
    tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    data = expected(tok, with_special_texts)
    # One entry per line: small, and a diff shows which case changed. (Keep U+FEFF out of the
    # test strings or escape them: see parity_corpus.)
    lines = [f'"{key}": [\n' + ",\n".join(json.dumps(e, ensure_ascii=False) for e in data[key]) + "\n]"
             for key in data]
    with open(os.path.join(folder, "expected.json"), "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


def make():
    gpt2 = trained(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True))
    gpt2.add_tokens([AddedToken("<mask>", lstrip=True, rstrip=True, normalized=False),
                     AddedToken("sw", single_word=True, normalized=False)])
    write("gpt2", gpt2)

    qwen2 = trained(pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ]), normalizer=normalizers.NFC())
    qwen2.add_tokens([AddedToken("<think>", special=False, normalized=True)])
    start = qwen2.token_to_id("<|im_start|>")
    qwen2.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|im_start|> $A", special_tokens=[("<|im_start|>", start)]),
    ])
    data = json.loads(qwen2.to_str())
    data["model"]["ignore_merges"] = True
    qwen2 = Tokenizer.from_str(json.dumps(data))
    write("qwen2", qwen2, with_special_texts=["Hello world", "", "<|im_end|> x"])

    smol = trained(pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ]))
    write("smollm2", smol)
    total = sum(os.path.getsize(os.path.join(HERE, d, f)) for d in ("gpt2", "qwen2", "smollm2")
                for f in ("tokenizer.json", "expected.json"))
    print(f"fixtures written, {total} bytes")


def check_saved(folder):
    tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    with open(os.path.join(folder, "swift_ids.json"), encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    bad = 0
    for case in cases:
        ids = tok.encode(case["text"], add_special_tokens=False).ids
        if ids != case["ids"]:
            bad += 1
            print("MISMATCH", repr(case["text"]), ids, case["ids"])
        if tok.decode(ids, skip_special_tokens=False) != case["text"]:
            bad += 1
            print("DECODE MISMATCH", repr(case["text"]))
    print(f"{len(cases) - bad}/{len(cases)} grlhf-saved encodes agree with tokenizers")

    # Informational: does tokenizers' own trainer learn the same merges from the same corpus?
    with open(os.path.join(folder, "corpus.json"), encoding="utf-8") as f:
        spec = json.load(f)
    ref = Tokenizer(models.BPE())
    ref.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=spec["vocab_size"], min_frequency=spec["min_frequency"],
                                  special_tokens=spec["special_tokens"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    ref.train_from_iterator(spec["corpus"], trainer)
    ours = json.loads(tok.to_str())["model"]
    theirs = json.loads(ref.to_str())["model"]
    same_merges = ours["merges"] == theirs["merges"]
    same_vocab = ours["vocab"] == theirs["vocab"]
    print(f"merges identical to tokenizers' BpeTrainer: {same_merges}; vocab identical: {same_vocab}")
    if not same_merges:
        for i, (a, b) in enumerate(zip(ours["merges"], theirs["merges"])):
            if a != b:
                print(f"first difference at merge {i}: grlhf {a} vs tokenizers {b}")
                break
        print(f"merge counts: grlhf {len(ours['merges'])}, tokenizers {len(theirs['merges'])}")
    return bad == 0


def parity_corpus(tokenizer_json, folder, count=3000, seed=1):
    """Random strings (every kind of whitespace, contractions, marks, CJK, emoji, any scalar) and
    one ~100 KB text, with the ids `tokenizers` gives them, for the Swift test `externalParity`
    (GRLHF_TOKENIZER_PARITY=folder). Works with any tokenizer.json, e.g. a real model's."""
    import random
    rng = random.Random(seed)
    pool = ["a", "Z", "q", "7", "0", "42", "'", "'s", "'T", "'ll", "'RE", "ſ", " ", "  ", "\t", "\n", "\r\n",
            "\x0b", "\x0c", "\x85", "\xa0", "\u2028", "\u3000", "\x1c", ".", ",", "!?", "$", "(", "_", "-",
            "é", "e\u0301", "\u0301", "ñ", "ß", "Ω", "Ж", "中", "文", "日本", "한", "١٢", "½", "😀", "👍🏽",
            "👨\u200d👩\u200d👧", "🇯🇵", "\u200d", "\ufeff", "<|im_end|>", "<|im_start", "<think>", "sw",
            "\x00", "hello", " world", "don't", "\n\n", "    "]
    def scalar():
        while True:
            v = rng.randrange(0x110000)
            if not 0xD800 <= v <= 0xDFFF:
                return chr(v)
    texts = []
    for _ in range(count):
        texts.append("".join(scalar() if rng.random() < 0.2 else rng.choice(pool)
                             for _ in range(rng.randrange(40))))
    texts.append("\n".join(CORPUS * 30) + "".join(texts[:200]))
    tok = Tokenizer.from_file(tokenizer_json)
    os.makedirs(folder, exist_ok=True)
    tok.save(os.path.join(folder, "tokenizer.json"))
    cases = [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids} for t in texts]
    # ASCII escapes: Foundation's JSONSerialization on Linux drops a raw U+FEFF at the start of
    # a string or right after an escape sequence (an escaped \ufeff survives).
    with open(os.path.join(folder, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"cases": cases}, f, ensure_ascii=True)
    print(f"{len(cases)} cases, {len(texts[-1].encode())} bytes in the long text")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check-saved":
        sys.exit(0 if check_saved(sys.argv[2]) else 1)
    if len(sys.argv) == 4 and sys.argv[1] == "--parity-corpus":
        sys.exit(parity_corpus(sys.argv[2], sys.argv[3]))
    make()
