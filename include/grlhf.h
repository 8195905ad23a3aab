/*
 * grlhf.h - the C ABI of grlhf (Generative RLHF-V on the CPU).
 *
 * This header is the contract: anything not declared here is private.
 *
 * Conventions, true for every function unless its doc block says otherwise:
 *
 *  - Fallible functions return a grlhf_status: GRLHF_OK (0) or a negative code.
 *    On failure grlhf_last_error() describes what went wrong.
 *  - Objects are opaque handles created through out-parameters and released
 *    with grlhf_<type>_free. On failure every out-parameter is set to NULL/0
 *    (when the out-pointer itself is non-NULL).
 *  - Handles are opaque tokens, not addresses, and are never reused: passing a
 *    NULL, freed or wrong-type handle returns GRLHF_ERR_MISUSE instead of
 *    crashing. NULL for any other pointer argument returns
 *    GRLHF_ERR_INVALID_ARGUMENT unless the doc block allows NULL.
 *  - Strings are NUL-terminated UTF-8. Strings returned by the library are
 *    owned by it; the doc block says how long they stay valid.
 *  - Sizes and counts are int64_t, enums and flags int32_t.
 *  - Thread-safety: every function may be called from any thread. A handle may
 *    be read (any const-handle function) from several threads at once;
 *    functions taking a non-const handle need exclusive access to it.
 *    Errors are per thread. grlhf_set_threads changes process-wide settings.
 *
 * ABI stability: shipped signatures never change; GRLHF_ABI_VERSION changes
 * when they must. Bindings compare grlhf_abi_version() with the version they
 * were written for and refuse a mismatched library.
 */
#ifndef GRLHF_H
#define GRLHF_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Versions                                                                  */
/* ------------------------------------------------------------------------ */

#define GRLHF_VERSION_MAJOR 0
#define GRLHF_VERSION_MINOR 1
#define GRLHF_VERSION_PATCH 0
/** Changes whenever a declaration in this header changes incompatibly. */
#define GRLHF_ABI_VERSION 2

/**
 * The library's semantic version, e.g. "0.1.0".
 * Returns static text owned by the library; never NULL. Thread-safe.
 */
const char *grlhf_version(void);

/**
 * The ABI version of the loaded library; compare with GRLHF_ABI_VERSION.
 * Thread-safe.
 */
int32_t grlhf_abi_version(void);

/* ------------------------------------------------------------------------ */
/* Status codes and errors                                                   */
/* ------------------------------------------------------------------------ */

typedef int32_t grlhf_status;

/** Success. */
#define GRLHF_OK 0
/** A bad argument: NULL pointer, out-of-range value, bad shape, bad name. */
#define GRLHF_ERR_INVALID_ARGUMENT (-1)
/** A file or stream that does not follow its format. */
#define GRLHF_ERR_INVALID_FORMAT (-2)
/** The operating system refused a read, write, fsync or rename. */
#define GRLHF_ERR_IO (-3)
/** A request larger than memory or a configured budget. */
#define GRLHF_ERR_OUT_OF_MEMORY (-4)
/** A recognised but unsupported feature (e.g. an unknown dtype). */
#define GRLHF_ERR_UNSUPPORTED (-5)
/** API misuse: a NULL, freed or wrong-type handle. */
#define GRLHF_ERR_MISUSE (-6)
/** A bug in grlhf. */
#define GRLHF_ERR_INTERNAL (-7)
/** A callback returned nonzero to stop the operation (reserved). */
#define GRLHF_ERR_CANCELLED (-8)
/** A user callback (e.g. a GRPO reward function) reported a failure; the message carries
    its text (see grlhf_set_callback_error). */
#define GRLHF_ERR_CALLBACK (-9)

/**
 * A short description of a status code, e.g. "invalid argument".
 * Returns static text; unknown codes give "unknown status". Never NULL.
 * Thread-safe.
 */
const char *grlhf_status_string(grlhf_status status);

/**
 * The message of the last failed call on the calling thread, or "" when the
 * last fallible call on this thread succeeded (or none was made).
 * The text is owned by the library and stays valid until the next grlhf call
 * on this thread. Never NULL. Thread-local: errors on one thread never change
 * another thread's message.
 */
const char *grlhf_last_error(void);

/* ------------------------------------------------------------------------ */
/* Runtime settings                                                          */
/* ------------------------------------------------------------------------ */

/**
 * Sets the thread counts, each in 1..256.
 * compute_threads: grlhf's own parallelism: large elementwise kernels,
 *   attention heads, and large matrix products split into pieces that each
 *   run single-threaded BLAS. This is the setting to raise (default 1).
 * blas_threads: OpenBLAS's internal threads (default 1). Above 1, grlhf
 *   leaves products to OpenBLAS: it stops splitting them and runs attention
 *   heads one after another, so that the two thread pools never stack.
 * Process-wide: do not call while another thread is computing.
 * Loads OpenBLAS (libopenblas.so.0) if no earlier call has: grlhf first sets
 * OPENBLAS_CORETYPE from the CPU's features unless the environment has it, so
 * call this early, before threads of your own read the environment.
 * Returns GRLHF_OK, GRLHF_ERR_INVALID_ARGUMENT (out-of-range count) or
 * GRLHF_ERR_UNSUPPORTED (OpenBLAS cannot be loaded).
 */
grlhf_status grlhf_set_threads(int32_t blas_threads, int32_t compute_threads);

/**
 * Reads the current thread settings into *blas_threads and *compute_threads.
 * Both pointers must be non-NULL (else GRLHF_ERR_INVALID_ARGUMENT).
 */
grlhf_status grlhf_get_threads(int32_t *blas_threads, int32_t *compute_threads);

/* ------------------------------------------------------------------------ */
/* Tensors                                                                   */
/* ------------------------------------------------------------------------ */

/** Largest supported tensor rank. */
#define GRLHF_MAX_RANK 8

/** An immutable row-major float32 tensor with its own storage. */
typedef struct grlhf_tensor grlhf_tensor;

/**
 * Creates a tensor of the given shape.
 *
 * data:  row-major float32 values, count = product of shape (the caller
 *        guarantees that many readable floats); copied. NULL gives zeros.
 * shape: rank dimensions, each >= 0. May be NULL only when rank is 0
 *        (a scalar, one element).
 * rank:  0..GRLHF_MAX_RANK.
 * out:   receives the new handle; free it with grlhf_tensor_free.
 *
 * Returns GRLHF_ERR_INVALID_ARGUMENT (NULL out/shape, bad rank, negative
 * dimension, element count overflow) or GRLHF_ERR_OUT_OF_MEMORY (more than
 * 2^40 bytes or more than physical memory).
 */
grlhf_status grlhf_tensor_create(const float *data, const int64_t *shape, int32_t rank,
                                 grlhf_tensor **out);

/** Writes the tensor's rank (0..GRLHF_MAX_RANK) into *out. */
grlhf_status grlhf_tensor_rank(const grlhf_tensor *tensor, int32_t *out);

/**
 * Copies the tensor's dimensions into dims[0..rank).
 * capacity is the length of dims; capacity < rank gives
 * GRLHF_ERR_INVALID_ARGUMENT. dims may be NULL only when the rank is 0.
 * On failure dims is left untouched (the exception to the out-parameter rule:
 * it is a caller's array, not an out-pointer).
 */
grlhf_status grlhf_tensor_shape(const grlhf_tensor *tensor, int64_t *dims, int32_t capacity);

/** Writes the number of elements (the product of the shape) into *out. */
grlhf_status grlhf_tensor_count(const grlhf_tensor *tensor, int64_t *out);

/**
 * Writes a borrowed pointer to the tensor's contiguous float32 values into
 * *out. The pointer stays valid while the handle lives; do not write through
 * it and do not free it. Never NULL on success, even for an empty tensor.
 */
grlhf_status grlhf_tensor_data(const grlhf_tensor *tensor, const float **out);

/**
 * Copies the tensor's values into dst, which holds capacity floats.
 * capacity < count gives GRLHF_ERR_INVALID_ARGUMENT; dst may be NULL only when
 * the tensor is empty.
 */
grlhf_status grlhf_tensor_copy_to(const grlhf_tensor *tensor, float *dst, int64_t capacity);

/**
 * Releases a tensor. NULL is a no-op; a freed, foreign or wrong-type handle is
 * ignored (and described by grlhf_last_error). Needs exclusive access.
 */
void grlhf_tensor_free(grlhf_tensor *tensor);

/* ------------------------------------------------------------------------ */
/* Tensor sets: ordered name -> tensor maps                                  */
/* ------------------------------------------------------------------------ */

/** An ordered map from unique UTF-8 names to tensors, e.g. a checkpoint. */
typedef struct grlhf_tensor_set grlhf_tensor_set;

/** Creates an empty set in *out; free it with grlhf_tensor_set_free. */
grlhf_status grlhf_tensor_set_create(grlhf_tensor_set **out);

/**
 * Appends a copy of tensor under name (the set does not keep the handle).
 * Returns GRLHF_ERR_INVALID_ARGUMENT for a NULL, empty or invalid UTF-8 name,
 * the name "__metadata__" (reserved by safetensors) or a name already present
 * (names compare as bytes); GRLHF_ERR_MISUSE for a bad set or tensor handle.
 * Invalidates names borrowed from this set.
 */
grlhf_status grlhf_tensor_set_add(grlhf_tensor_set *set, const char *name,
                                  const grlhf_tensor *tensor);

/** Writes the number of entries into *out. */
grlhf_status grlhf_tensor_set_count(const grlhf_tensor_set *set, int64_t *out);

/**
 * Writes a borrowed pointer to the name of entry index (0..count-1, in
 * insertion or file order) into *out. Valid while the set lives and is not
 * modified. An index out of range gives GRLHF_ERR_INVALID_ARGUMENT.
 */
grlhf_status grlhf_tensor_set_name(const grlhf_tensor_set *set, int64_t index, const char **out);

/**
 * Writes a new tensor handle holding a copy of the entry called name into
 * *out; the caller frees it with grlhf_tensor_free. A missing name gives
 * GRLHF_ERR_INVALID_ARGUMENT.
 */
grlhf_status grlhf_tensor_set_get(const grlhf_tensor_set *set, const char *name,
                                  grlhf_tensor **out);

/**
 * Releases a set and its tensors. NULL is a no-op; a freed, foreign or
 * wrong-type handle is ignored. Needs exclusive access.
 */
void grlhf_tensor_set_free(grlhf_tensor_set *set);

/* ------------------------------------------------------------------------ */
/* Safetensors files                                                         */
/* ------------------------------------------------------------------------ */

/**
 * Loads every tensor of a .safetensors file into a new set in *out (file
 * order). F32, F16 and BF16 tensors are read as float32.
 * Returns GRLHF_ERR_IO (cannot read), GRLHF_ERR_INVALID_FORMAT (corrupt file,
 * the message names the corruption), GRLHF_ERR_UNSUPPORTED (another dtype, or
 * a rank above GRLHF_MAX_RANK), GRLHF_ERR_OUT_OF_MEMORY (a tensor larger than
 * physical memory or 2^40 bytes) or GRLHF_ERR_INVALID_ARGUMENT (NULL or
 * non-UTF-8 path). Tensors are read straight into their float32 storage: F32
 * files need about their own size in memory, F16/BF16 files twice it.
 */
grlhf_status grlhf_safetensors_load(const char *path, grlhf_tensor_set **out);

/**
 * Writes every tensor of set, as float32 in set order, to a .safetensors file
 * at path. The write is atomic (temporary file in the same directory, fsync,
 * rename): path holds either its old content or the complete new file.
 * Returns GRLHF_ERR_IO when the file cannot be written, GRLHF_ERR_MISUSE for a
 * bad set handle, GRLHF_ERR_INVALID_ARGUMENT for a NULL or non-UTF-8 path.
 */
grlhf_status grlhf_safetensors_save(const char *path, const grlhf_tensor_set *set);

/* ------------------------------------------------------------------------ */
/* Language and vision-language models, tokenizers and generation            */
/* ------------------------------------------------------------------------ */

/*
 * Thread-safety of this section: a grlhf_model may be used by one thread at a
 * time per model handle for grlhf_generate_group and grlhf_model_logprobs
 * (they share the model's weights and its RoPE table cache; computing from
 * several threads on one model handle is NOT promised, even though both run
 * without recording gradients). Different model handles may compute on
 * different threads at once. The const-model functions (grlhf_model_vocab_size,
 * grlhf_model_image_info, grlhf_model_save, grlhf_image_load) only read the
 * weights and may be called from any thread. A grlhf_tokenizer is immutable
 * apart from an internal locked cache: one handle may encode and decode from
 * many threads at once. A grlhf_generation is immutable: any thread may read it.
 *
 * Images: a multimodal model (model_type "llava": a ViT, a projector and a
 * Llama/Qwen2 decoder) reads token ids in which each image is ONE placeholder
 * id, image_token_id (what the tokenizer's "<image>" token encodes to). The
 * model widens each placeholder to tokens_per_image positions that hold the
 * image's features. The images of a call are one tensor [I, 3, S, S] (S =
 * image_size; from grlhf_image_load, or preprocessed by the caller), image i
 * belonging to the i-th placeholder; I must equal the number of placeholders.
 * (3 is the vision config's num_channels, which grlhf_image_load requires.)
 */

/** A causal language model: text-only (Llama / Qwen2) or multimodal (LLaVA-style). */
typedef struct grlhf_model grlhf_model;
/** A byte-level BPE tokenizer read from a Hugging Face tokenizer.json. */
typedef struct grlhf_tokenizer grlhf_tokenizer;
/** The sequences of one grlhf_generate_group call; owned by the library. */
typedef struct grlhf_generation grlhf_generation;

/** finish_reason of a sequence that ended by sampling a stop token (kept in the output). */
#define GRLHF_FINISH_STOP 0
/** finish_reason of a sequence that reached max_new_tokens. */
#define GRLHF_FINISH_LENGTH 1

/**
 * Loads a model directory (config.json + model.safetensors, or
 * pytorch_model.bin without it) into *out; free it with grlhf_model_free.
 * config.json's model_type chooses the model: "llama" or "qwen2" (a Hugging
 * Face checkpoint) or "llava" (a multimodal directory as grlhf_model_save and
 * `grlhf init-model` write it). A path ending in ".gguf" is a llama.cpp file
 * instead (Llama architecture, F32/F16/BF16/Q8_0/Q4_0/Q4_1 tensors dequantized
 * to float32). Loads OpenBLAS if no earlier call has.
 * Returns GRLHF_ERR_IO (a file cannot be read), GRLHF_ERR_INVALID_FORMAT
 * (bad config or weights), GRLHF_ERR_UNSUPPORTED (an unsupported architecture
 * or option; OpenBLAS cannot be loaded), GRLHF_ERR_OUT_OF_MEMORY (the config's
 * parameters above the tensor limit) or GRLHF_ERR_INVALID_ARGUMENT (NULL or
 * non-UTF-8 dir, NULL out, inconsistent sizes in the config).
 */
grlhf_status grlhf_model_load(const char *dir, grlhf_model **out);

/**
 * Creates a randomly initialized model from a config.json file (any
 * model_type grlhf_model_load reads) into *out; free it with grlhf_model_free.
 * The same config_json_path and seed give the same weights.
 * Loads OpenBLAS if no earlier call has.
 * Returns GRLHF_ERR_IO (the file cannot be read), GRLHF_ERR_INVALID_FORMAT
 * (not JSON, or a size missing), GRLHF_ERR_UNSUPPORTED (an unsupported
 * model_type or option; OpenBLAS cannot be loaded), GRLHF_ERR_OUT_OF_MEMORY
 * (the config's parameters above the tensor limit) or
 * GRLHF_ERR_INVALID_ARGUMENT (NULL or non-UTF-8 path, NULL out, inconsistent
 * sizes such as a hidden size the heads do not divide).
 */
grlhf_status grlhf_model_init(const char *config_json_path, uint64_t seed, grlhf_model **out);

/**
 * Writes the model as a directory that grlhf_model_load reads: config.json and
 * model.safetensors (float32), each replaced atomically; dir is created (with
 * its parents) if missing.
 * Returns GRLHF_ERR_IO (the directory or a file cannot be written),
 * GRLHF_ERR_MISUSE (bad model handle) or GRLHF_ERR_INVALID_ARGUMENT (NULL or
 * non-UTF-8 dir).
 */
grlhf_status grlhf_model_save(const grlhf_model *model, const char *dir);

/**
 * Releases a model. NULL is a no-op; a freed, foreign or wrong-type handle is
 * ignored (and described by grlhf_last_error). Needs exclusive access.
 */
void grlhf_model_free(grlhf_model *model);

/** Writes the model's vocabulary size (valid token ids are 0..size-1) into *out. */
grlhf_status grlhf_model_vocab_size(const grlhf_model *model, int64_t *out);

/**
 * Describes the model's image input: *image_token_id receives the placeholder
 * id of one image, *tokens_per_image the positions an image occupies once
 * widened, *image_size the side S of the [I, 3, S, S] images it reads. A
 * text-only model gives -1, 0 and 0. All three pointers must be non-NULL;
 * on failure they receive -1, 0 and 0 (where non-NULL).
 */
grlhf_status grlhf_model_image_info(const grlhf_model *model, int32_t *image_token_id,
                                    int64_t *tokens_per_image, int64_t *image_size);

/**
 * Reads a PNG file (any bit depth and colour type; gray becomes RGB, alpha is
 * dropped) and preprocesses it as the model expects (bilinear resize to S x S,
 * per-channel normalization from config.json) into a new tensor [1, 3, S, S]
 * in *out; free it with grlhf_tensor_free. Several images for one call are
 * concatenated along the first axis by the caller.
 * Returns GRLHF_ERR_IO (the file cannot be read), GRLHF_ERR_INVALID_FORMAT
 * (not a valid PNG), GRLHF_ERR_OUT_OF_MEMORY (more than 2^26 pixels),
 * GRLHF_ERR_INVALID_ARGUMENT (a text-only model; NULL or non-UTF-8 png_path;
 * NULL out), GRLHF_ERR_UNSUPPORTED (a config whose vision tower does not read
 * 3 x S x S images) or GRLHF_ERR_MISUSE (bad model handle).
 */
grlhf_status grlhf_image_load(const grlhf_model *model, const char *png_path, grlhf_tensor **out);

/**
 * Log-probabilities of given tokens under the model (temperature 1, no
 * truncation): out[t] = log pi(ids[t+1] | ids[0..t], images) for t in 0..n-2,
 * from one forward pass over the ids with every image placeholder widened to
 * tokens_per_image positions (the images' features).
 *
 * ids:      n token ids, each in 0..vocab_size-1, with one image_token_id per
 *           image (not widened); n in 1..2^20, and at most 2^20 positions once
 *           widened. Every image_token_id in ids is read as an image.
 * images:   [I, 3, S, S] with I = the number of image_token_id in ids (see
 *           the section comment), or NULL when ids hold none (a multimodal
 *           model also takes an empty [0, 3, S, S] then).
 * out:      receives n-1 floats; may be NULL only when n is 1. out[t] is 0
 *           where ids[t+1] is an image placeholder (image positions are
 *           inputs, not predictions).
 * capacity: the length of out; capacity < n-1 gives GRLHF_ERR_INVALID_ARGUMENT.
 *
 * For the tokens of a grlhf_generate_group result, pass its prompt followed by
 * the tokens with the same images: out[n_prompt-1+t] is its logprobs[t].
 *
 * Returns GRLHF_ERR_MISUSE (bad model or images handle),
 * GRLHF_ERR_INVALID_ARGUMENT (bad pointer, length, id or capacity; images
 * whose count or shape does not match the placeholders, or images for a
 * text-only model), GRLHF_ERR_OUT_OF_MEMORY (the logits or attention scores
 * above the tensor limit) or GRLHF_ERR_UNSUPPORTED (no OpenBLAS). On failure
 * out is left unspecified. One thread at a time per model handle.
 */
grlhf_status grlhf_model_logprobs(grlhf_model *model, const int32_t *ids, int64_t n,
                                  const grlhf_tensor *images, float *out, int64_t capacity);

/**
 * Loads a Hugging Face tokenizer.json (byte-level BPE: GPT-2, Llama-3, Qwen2,
 * SmolLM2), or the tokenizer inside a ".gguf" file (GPT-2-style BPE with its
 * pre-tokenizer), into *out; free it with grlhf_tokenizer_free.
 * Returns GRLHF_ERR_IO, GRLHF_ERR_INVALID_FORMAT, GRLHF_ERR_UNSUPPORTED (another
 * tokenizer model) or GRLHF_ERR_INVALID_ARGUMENT (NULL or non-UTF-8 path).
 */
grlhf_status grlhf_tokenizer_load(const char *path, grlhf_tokenizer **out);

/** Releases a tokenizer. NULL is a no-op; a bad handle is ignored. */
void grlhf_tokenizer_free(grlhf_tokenizer *tokenizer);

/** Writes one past the largest token id (vocabulary and added tokens) into *out. */
grlhf_status grlhf_tokenizer_vocab_size(const grlhf_tokenizer *tokenizer, int64_t *out);

/**
 * Encodes UTF-8 text into token ids, without adding special tokens (special
 * tokens written in the text are recognised). Two-call pattern: pass ids NULL
 * and capacity 0 to ask for the count, then a buffer of that many ids.
 *
 * *count always receives the number of ids the text needs (also when capacity
 * is too small, which returns GRLHF_ERR_INVALID_ARGUMENT and leaves ids
 * untouched). ids may be NULL only when capacity is 0; count must be non-NULL.
 * Returns GRLHF_ERR_INVALID_ARGUMENT also for NULL or non-UTF-8 text or a
 * negative capacity; *count is then 0.
 */
grlhf_status grlhf_tokenizer_encode(const grlhf_tokenizer *tokenizer, const char *utf8_text,
                                    int32_t *ids, int64_t capacity, int64_t *count);

/**
 * Decodes n token ids into NUL-terminated UTF-8 text in buf (capacity bytes
 * including the NUL). Special tokens are kept; ids that name no token are
 * skipped; bytes that do not form valid UTF-8 become U+FFFD. Two-call pattern:
 * pass buf NULL and capacity 0 to ask for the length.
 *
 * *length always receives the text's length in bytes, without the NUL (also
 * when capacity <= length, which returns GRLHF_ERR_INVALID_ARGUMENT and leaves
 * buf untouched). ids may be NULL only when n is 0; n in 0..2^20.
 */
grlhf_status grlhf_tokenizer_decode(const grlhf_tokenizer *tokenizer, const int32_t *ids, int64_t n,
                                    char *buf, int64_t capacity, int64_t *length);

/**
 * Writes the ChatML prompt of one user message followed by the assistant's
 * generation prompt ("<|im_start|>user\n...<|im_end|>\n<|im_start|>assistant\n")
 * into buf, with the same two-call pattern and rules as grlhf_tokenizer_decode.
 */
grlhf_status grlhf_chatml_user_prompt(const char *message, char *buf, int64_t capacity,
                                      int64_t *length);

/**
 * How tokens are drawn. Always start from grlhf_sampling_params_default, which
 * sets struct_size, then change fields; a struct_size below the size this
 * library knows gives GRLHF_ERR_INVALID_ARGUMENT.
 */
typedef struct grlhf_sampling_params {
    /** sizeof(grlhf_sampling_params), set by grlhf_sampling_params_default. */
    uint32_t struct_size;
    /** >= 0 and finite; 0 is greedy (the largest logit, lowest id on ties). Default 1. */
    float temperature;
    /** Keep the top_k largest logits; 0 keeps all, 1 is greedy. >= 0. Default 0. */
    int32_t top_k;
    /** Keep the smallest prefix of probability mass >= top_p; in (0, 1]. Default 1. */
    float top_p;
    /** New tokens per sequence at most, 0..65536. Default 64. */
    int64_t max_new_tokens;
    /** Sequence i of a group draws from PCG32(seed, stream i): reproducible, and
        independent of the group size. Default 0. */
    uint64_t seed;
    /** Sampling one of these ends a sequence (the token is kept); each id in
        0..vocab_size-1. May be NULL only when n_stop_tokens is 0. Default NULL. */
    const int32_t *stop_tokens;
    /** Number of stop tokens, 0..2^20. Default 0. */
    int64_t n_stop_tokens;
} grlhf_sampling_params;

/**
 * Fills *out with the defaults (struct_size = sizeof(grlhf_sampling_params),
 * temperature 1, top_k 0, top_p 1, max_new_tokens 64, seed 0, no stop
 * tokens). Returns GRLHF_ERR_INVALID_ARGUMENT for a NULL out. (A function
 * with an out-parameter rather than a struct return, because the library is
 * written in Swift, which cannot return C structs by value.)
 */
grlhf_status grlhf_sampling_params_default(grlhf_sampling_params *out);

/**
 * Samples group continuations of one prompt into a new result in *out; free
 * it with grlhf_generation_free. The prompt is prefilled once and the group
 * decodes together; sequence i depends only on (prompt, images, params, i).
 *
 * prompt:   n_prompt token ids, each in 0..vocab_size-1, with one
 *           image_token_id per image (not widened); n_prompt in 1..2^20, and
 *           at most 2^20 positions once widened.
 * images:   [I, 3, S, S] with I = the number of image_token_id in the prompt
 *           (see the section comment), or NULL when the prompt holds none (a
 *           multimodal model also takes an empty [0, 3, S, S] then).
 *           Read during the call only.
 * group:    number of sequences, 1..1024.
 * params:   NULL for the defaults.
 *
 * Tokens are sampled from the whole vocabulary except image_token_id, which
 * only prompts hold (so every result can be re-scored by grlhf_model_logprobs).
 * The log-probs are still those of the full distribution.
 *
 * Returns GRLHF_ERR_MISUSE (bad model or images handle),
 * GRLHF_ERR_INVALID_ARGUMENT (NULL prompt or out, bad length, id, group or
 * params, struct_size too small; images whose count or shape does not match
 * the placeholders, or images for a text-only model),
 * GRLHF_ERR_OUT_OF_MEMORY (the prompt's attention scores or the group's KV
 * cache above the tensor limit) or GRLHF_ERR_UNSUPPORTED (no OpenBLAS).
 * One thread at a time per model handle.
 */
grlhf_status grlhf_generate_group(grlhf_model *model, const int32_t *prompt, int64_t n_prompt,
                                  const grlhf_tensor *images, int64_t group,
                                  const grlhf_sampling_params *params, grlhf_generation **out);

/** Writes the number of sequences (the group size) into *out. */
grlhf_status grlhf_generation_count(const grlhf_generation *generation, int64_t *out);

/**
 * Lends sequence index (0..count-1) of a result: *tokens and *logprobs point
 * to *length generated tokens (the prompt excluded) and their log-probs, valid
 * while the result lives (never NULL on success, even when *length is 0); do
 * not write through them or free them. *finish_reason is GRLHF_FINISH_STOP or
 * GRLHF_FINISH_LENGTH. All four out-pointers must be non-NULL.
 *
 * logprobs[t] is log pi(tokens[t] | prompt, tokens[0..t-1]) under the model's
 * own distribution: the log-softmax of the raw logits (temperature 1, before
 * top-k/top-p truncation), which is what a training forward over prompt +
 * tokens recomputes (GRPO/PPO's pi_old) and what grlhf_model_logprobs returns
 * for those positions.
 */
grlhf_status grlhf_generation_tokens(const grlhf_generation *generation, int64_t index,
                                     const int32_t **tokens, const float **logprobs,
                                     int64_t *length, int32_t *finish_reason);

/** Releases a result and the sequences it lent. NULL is a no-op; a bad handle is ignored. */
void grlhf_generation_free(grlhf_generation *generation);

/* ------------------------------------------------------------------------ */
/* Training: SFT, reward models, DPO, GRPO, PPO                              */
/* ------------------------------------------------------------------------ */

/*
 * Every trainer is a grlhf_trainer: made by one constructor per method, then driven by the
 * same functions (grlhf_trainer_step, grlhf_trainer_train, metrics, checkpoints, resume).
 * A trainer owns AdamW over the model's trainable parameters, the learning-rate schedule
 * (linear warm-up over warmup_ratio of the updates, then the schedule), gradient-norm
 * clipping, skipping of updates whose loss or gradients are not finite, and a seeded,
 * checkpointed data order.
 *
 * Data are JSON Lines files, one object per line (blank lines skipped; errors name the file
 * and line); a relative "image" path resolves against the file's folder:
 *   SFT:             {"question": ..., "image": PNG path (optional), "response": ...}
 *   reward model, DPO: {"question", "image" (optional), "response_1", "response_2",
 *                     "preferred": 1 or 2}
 *   GRPO, PPO prompts: {"question", "image" (optional), "ground_truth" (optional)}
 * Rows are rendered as one ChatML user turn (an image's "<image>" placeholder on its own line
 * first) and the assistant's reply closed by <|im_end|>, so the tokenizer must have
 * <|im_end|> and no ids beyond the model's vocabulary. All rows are read and tokenized (and
 * their images loaded) by the constructor, which fails on the first bad one.
 *
 * Lifetimes: a trainer (and a grlhf_reward, and a grlhf_reward_model made from a model)
 * keeps its own references to the models, tokenizer and reward it was given, so their handles
 * may be freed at any time after the constructor returns. It trains the given model's weights
 * IN PLACE: a model handle still held by the caller sees the trained weights (save them with
 * grlhf_model_save or grlhf_reward_model_save). A reward model made with
 * grlhf_reward_model_create shares the weights of its base model the same way.
 *
 * Thread-safety: a trainer belongs to one thread at a time, and while it runs a step nothing
 * else may use the models it trains or reads (policy, reference, reward model), through any
 * handle. A trainer runs one step at a time: grlhf_trainer_step, _train, _resume and
 * _set_metrics_path called while it is running (from one of its own callbacks, or another
 * thread) return GRLHF_ERR_MISUSE. Callbacks are called on the thread that called
 * grlhf_trainer_step or grlhf_trainer_train; inside them the trainer may be read
 * (grlhf_trainer_progress, grlhf_trainer_metrics) and checkpointed
 * (grlhf_trainer_save_checkpoint).
 *
 * Metrics of a step (names as TRL uses them where it has one) include "loss", "grad_norm",
 * "learning_rate", "step", "step_time", "skipped_steps", "tokens", "tokens_per_second" and
 * per trainer: SFT "mean_token_accuracy"; reward model "accuracy", "rewards/chosen",
 * "rewards/rejected", "rewards/margins"; DPO "rewards/chosen", "rewards/rejected",
 * "rewards/accuracies", "rewards/margins"; GRPO "reward", "reward_std",
 * "frac_reward_zero_std", "kl", "clip_ratio", "entropy", "completion_length",
 * "completion_length_min", "completion_length_max", "truncated_fraction"; PPO "value_loss",
 * "reward", "kl", "clip_ratio", "entropy", "returns", "advantages" and the completion lengths.
 */

/** A trainer of any kind (SFT, reward model, DPO, GRPO, PPO). */
typedef struct grlhf_trainer grlhf_trainer;
/** A Bradley-Terry reward model: a causal LM with a scalar head on its last hidden state. */
typedef struct grlhf_reward_model grlhf_reward_model;
/** A reward function for GRPO and PPO: a C callback, a reward model, a built-in rule or a judge. */
typedef struct grlhf_reward grlhf_reward;

/** Learning-rate schedules after the warm-up (the `schedule` field of the params). */
#define GRLHF_SCHEDULE_CONSTANT 0
#define GRLHF_SCHEDULE_LINEAR 1
#define GRLHF_SCHEDULE_COSINE 2

/** GRPO's per-token KL estimators: k1 = log pi - log pi_ref; k3 = e^(ref-logpi) - (ref-logpi) - 1. */
#define GRLHF_KL_K1 0
#define GRLHF_KL_K3 1

/*
 * The params structs. Always start from grlhf_<method>_params_default, which sets struct_size
 * and every field to the Swift API's defaults (given beside each field), then change fields;
 * NULL params mean the defaults. A struct_size below the size this library knows gives
 * GRLHF_ERR_INVALID_ARGUMENT; so does any value outside the range given beside its field.
 * Every struct ends with the same optimizer fields:
 *   learning_rate  peak rate, finite >= 0
 *   weight_decay   AdamW's decoupled decay, finite >= 0 (default 0.01)
 *   warmup_ratio   fraction of the updates spent warming up linearly, in [0, 1] (default 0.03)
 *   schedule       GRLHF_SCHEDULE_* after the warm-up
 *   max_grad_norm  global gradient-norm clip, finite >= 0; 0 turns clipping off (default 1)
 *   beta1, beta2   AdamW's moment decays, in [0, 1) (defaults 0.9, 0.999)
 */

/** Supervised fine-tuning: cross-entropy on the response tokens (and the closing <|im_end|>). */
typedef struct grlhf_sft_params {
    /** sizeof(grlhf_sft_params), set by grlhf_sft_params_default. */
    uint32_t struct_size;
    /** Optimizer steps of the run, 1..2^31. Default 100. */
    int64_t steps;
    /** Sequences per step, 1..65536. Default 8. */
    int64_t batch_size;
    /** Forward passes per step (batch_size must be a multiple of it), 1..batch_size. Default 1. */
    int64_t gradient_accumulation;
    /** Shuffles the rows (a fresh permutation every epoch). Default 0. */
    uint64_t seed;
    /** Default 1e-4. */
    float learning_rate;
    float weight_decay;
    float warmup_ratio;
    /** Default GRLHF_SCHEDULE_COSINE. */
    int32_t schedule;
    float max_grad_norm;
    float beta1;
    float beta2;
} grlhf_sft_params;

/** Bradley-Terry reward-model training on preference pairs. */
typedef struct grlhf_rm_params {
    /** sizeof(grlhf_rm_params), set by grlhf_rm_params_default. */
    uint32_t struct_size;
    /** Optimizer steps, 1..2^31. Default 100. */
    int64_t steps;
    /** Preference pairs per step, 1..65536. Default 8. */
    int64_t batch_size;
    /** Shuffles the pairs. Default 0. */
    uint64_t seed;
    /** Weight of mean(r_chosen^2 + r_rejected^2), finite >= 0. Default 1e-3. */
    float regularization;
    /** Nonzero keeps a multimodal base's vision tower fixed (it stays frozen in the shared
        base model afterwards). Default 1. */
    int32_t freeze_vision_tower;
    /** Default 3e-5. */
    float learning_rate;
    float weight_decay;
    float warmup_ratio;
    /** Default GRLHF_SCHEDULE_CONSTANT. */
    int32_t schedule;
    float max_grad_norm;
    float beta1;
    float beta2;
} grlhf_rm_params;

/** Direct preference optimization against a frozen reference. */
typedef struct grlhf_dpo_params {
    /** sizeof(grlhf_dpo_params), set by grlhf_dpo_params_default. */
    uint32_t struct_size;
    /** Optimizer steps, 1..2^31. Default 100. */
    int64_t steps;
    /** Preference pairs per step, 1..65536. Default 8. */
    int64_t batch_size;
    /** Shuffles the pairs. Default 0. */
    uint64_t seed;
    /** beta of the DPO loss, finite > 0. Default 0.1. */
    float beta;
    /** Default 1e-6. */
    float learning_rate;
    float weight_decay;
    float warmup_ratio;
    /** Default GRLHF_SCHEDULE_COSINE. */
    int32_t schedule;
    float max_grad_norm;
    float beta1;
    float beta2;
} grlhf_dpo_params;

/** Group relative policy optimization. */
typedef struct grlhf_grpo_params {
    /** sizeof(grlhf_grpo_params), set by grlhf_grpo_params_default. */
    uint32_t struct_size;
    /** Rollout batches (trainer steps), 1..2^31. Default 100. */
    int64_t steps;
    /** Prompts per rollout batch, 1..65536. Default 4. */
    int64_t prompts_per_step;
    /** Completions sampled per prompt (G), 1..1024. Default 8. */
    int64_t group_size;
    /** Passes over each rollout batch with pi_old fixed, 1..1024. Default 1. */
    int64_t epochs;
    /** Optimizer updates per pass, 1..prompts_per_step*group_size. Default 1.
        steps*epochs*mini_batches must stay within 2^31. */
    int64_t mini_batches;
    /** Shuffles the prompts and seeds the sampling of every step (a resumed run draws the same
        completions). Default 0. */
    uint64_t seed;
    /** epsilon of the clipped surrogate, finite >= 0. Default 0.2. */
    float clip;
    /** beta of the KL-to-reference loss term, finite >= 0; 0 keeps no reference. Default 0.02. */
    float kl_coefficient;
    /** GRLHF_KL_K1 or GRLHF_KL_K3. Default GRLHF_KL_K3. */
    int32_t kl_estimator;
    /** Nonzero leaves completions that hit max_new_tokens out of the loss. Default 0. */
    int32_t mask_truncated;
    /** Sampling temperature, finite >= 0 (0 is greedy). Default 1. */
    float temperature;
    /** Keep the top_k largest logits (0 keeps all), >= 0. Default 0. */
    int32_t top_k;
    /** Nucleus mass, in (0, 1]. Default 1. */
    float top_p;
    /** New tokens per completion at most, 1..65536. Default 64. */
    int64_t max_new_tokens;
    /** Extra stop tokens (<|im_end|> always stops), each in 0..vocab_size-1; copied by the
        constructor. May be NULL only when n_stop_tokens is 0. Default NULL. */
    const int32_t *stop_tokens;
    /** Number of stop_tokens, 0..2^20. Default 0. */
    int64_t n_stop_tokens;
    /** Default 1e-6. */
    float learning_rate;
    float weight_decay;
    float warmup_ratio;
    /** Default GRLHF_SCHEDULE_COSINE. */
    int32_t schedule;
    float max_grad_norm;
    float beta1;
    float beta2;
} grlhf_grpo_params;

/** PPO with a critic (a value head on its own model) and per-token KL rewards. */
typedef struct grlhf_ppo_params {
    /** sizeof(grlhf_ppo_params), set by grlhf_ppo_params_default. */
    uint32_t struct_size;
    /** Rollout batches (trainer steps), 1..2^31. Default 100. */
    int64_t steps;
    /** Prompts per rollout batch, 1..65536. Default 8. */
    int64_t prompts_per_step;
    /** Completions per prompt, 1..1024 (1 is classic PPO). Default 1. */
    int64_t completions_per_prompt;
    /** Passes over each rollout batch, 1..1024. Default 1. */
    int64_t epochs;
    /** Updates per pass (of the policy and of the critic), 1..prompts_per_step*completions_per_prompt.
        Default 1. steps*epochs*mini_batches must stay within 2^31. */
    int64_t mini_batches;
    /** Shuffles the prompts and seeds sampling and the critic's new head. Default 0. */
    uint64_t seed;
    /** epsilon of the policy's clipped surrogate, finite >= 0. Default 0.2. */
    float clip;
    /** Clip of the critic's value change, finite >= 0. Default 5. */
    float value_clip;
    /** Per-token rewards are clamped to +-reward_clip, finite >= 0. Default 50. */
    float reward_clip;
    /** beta of the per-token KL penalty in the reward, finite >= 0. Default 0.02. */
    float kl_coefficient;
    /** GAE's discount and lambda, each in [0, 1]. Defaults 1 and 0.95. */
    float gamma;
    float lambda;
    /** Nonzero normalizes the advantages over each rollout batch. Default 0. */
    int32_t whiten_advantages;
    /** Sampling, as in grlhf_grpo_params. Defaults 1, 0, 1, 64, NULL, 0. */
    float temperature;
    int32_t top_k;
    float top_p;
    int64_t max_new_tokens;
    const int32_t *stop_tokens;
    int64_t n_stop_tokens;
    /** The policy's optimizer. Default learning rate 1e-6, GRLHF_SCHEDULE_COSINE. */
    float learning_rate;
    float weight_decay;
    float warmup_ratio;
    int32_t schedule;
    float max_grad_norm;
    float beta1;
    float beta2;
    /** The critic's own optimizer, same rules. Defaults 5e-6, 0.01, 0 (no warm-up),
        GRLHF_SCHEDULE_CONSTANT, 1, 0.9, 0.999. */
    float critic_learning_rate;
    float critic_weight_decay;
    float critic_warmup_ratio;
    int32_t critic_schedule;
    float critic_max_grad_norm;
    float critic_beta1;
    float critic_beta2;
} grlhf_ppo_params;

/** Fills *out with the SFT defaults and struct_size; GRLHF_ERR_INVALID_ARGUMENT for NULL. */
grlhf_status grlhf_sft_params_default(grlhf_sft_params *out);
/** Fills *out with the reward-model defaults and struct_size; GRLHF_ERR_INVALID_ARGUMENT for NULL. */
grlhf_status grlhf_rm_params_default(grlhf_rm_params *out);
/** Fills *out with the DPO defaults and struct_size; GRLHF_ERR_INVALID_ARGUMENT for NULL. */
grlhf_status grlhf_dpo_params_default(grlhf_dpo_params *out);
/** Fills *out with the GRPO defaults and struct_size; GRLHF_ERR_INVALID_ARGUMENT for NULL. */
grlhf_status grlhf_grpo_params_default(grlhf_grpo_params *out);
/** Fills *out with the PPO defaults and struct_size; GRLHF_ERR_INVALID_ARGUMENT for NULL. */
grlhf_status grlhf_ppo_params_default(grlhf_ppo_params *out);

/*
 * The constructors have the same failure rules: *out is NULL on failure and nothing is
 * trained. GRLHF_ERR_MISUSE: a bad model, tokenizer, reward model or reward handle.
 * GRLHF_ERR_INVALID_ARGUMENT: NULL or non-UTF-8 path, NULL out, a params value out of range or
 * struct_size too small, an empty file, a tokenizer without <|im_end|> or with ids beyond the
 * model's vocabulary, an image row for a text-only model, a model without trainable
 * parameters, a reference that is the policy itself or reads other ids or images.
 * GRLHF_ERR_IO: a data file or image cannot be read. GRLHF_ERR_INVALID_FORMAT: a line that is
 * not a valid row (the message names file and line), a corrupt PNG.
 * GRLHF_ERR_OUT_OF_MEMORY: a batch of the longest rows whose activations would exceed the
 * tensor limit. GRLHF_ERR_UNSUPPORTED: no OpenBLAS. Free the trainer with grlhf_trainer_free.
 */

/**
 * A supervised fine-tuning trainer of model on the rows of data_jsonl (SFT rows).
 * params: NULL for the defaults.
 */
grlhf_status grlhf_sft_trainer_create(grlhf_model *model, const grlhf_tokenizer *tokenizer,
                                      const char *data_jsonl, const grlhf_sft_params *params,
                                      grlhf_trainer **out);

/**
 * A Bradley-Terry trainer of reward_model (and so of the base model it shares weights with)
 * on the preference pairs of data_jsonl: loss -log sigmoid(r_chosen - r_rejected) plus the
 * regularization. params: NULL for the defaults.
 */
grlhf_status grlhf_rm_trainer_create(grlhf_reward_model *reward_model, const grlhf_tokenizer *tokenizer,
                                     const char *data_jsonl, const grlhf_rm_params *params,
                                     grlhf_trainer **out);

/**
 * A DPO trainer of policy on the preference pairs of data_jsonl, with summed response
 * log-probabilities. reference: a model reading the same ids and images (not the policy
 * itself), used frozen; NULL makes a frozen copy of the policy as it is now. params: NULL for
 * the defaults.
 */
grlhf_status grlhf_dpo_trainer_create(grlhf_model *policy, grlhf_model *reference,
                                      const grlhf_tokenizer *tokenizer, const char *data_jsonl,
                                      const grlhf_dpo_params *params, grlhf_trainer **out);

/**
 * A GRPO trainer of policy on the prompts of prompts_jsonl: each step samples group_size
 * completions for each of prompts_per_step prompts (stopping at <|im_end|>), scores every
 * group with reward, normalizes the rewards within each group into advantages, and takes
 * epochs x mini_batches clipped-surrogate updates with kl_coefficient x KL to the reference.
 * reference: as for DPO (ignored when kl_coefficient is 0); NULL makes a frozen copy of the
 * policy. reward: from grlhf_reward_create, grlhf_reward_from_reward_model, grlhf_reward_rule or
 * grlhf_reward_from_judge (grouped comparison). A reward that
 * fails, or returns a non-finite value, fails the step (see grlhf_reward_fn). params: NULL
 * for the defaults. Also GRLHF_ERR_OUT_OF_MEMORY when a group's KV cache over the longest
 * prompt plus max_new_tokens would exceed the tensor limit.
 */
grlhf_status grlhf_grpo_trainer_create(grlhf_model *policy, grlhf_model *reference,
                                       const grlhf_tokenizer *tokenizer, const char *prompts_jsonl,
                                       grlhf_reward *reward, const grlhf_grpo_params *params,
                                       grlhf_trainer **out);

/**
 * A PPO trainer of policy on the prompts of prompts_jsonl: each step samples
 * completions_per_prompt completions for each of prompts_per_step prompts, scores them with
 * reward (one score per completion, added at its last token), subtracts kl_coefficient x
 * (log pi_old - log pi_ref) per token, clamps, and takes GAE advantages and returns from the
 * critic's values; the policy takes the clipped surrogate, the critic the clipped value loss,
 * each with its own AdamW (both checkpointed). reference: as for DPO; NULL makes a frozen copy
 * of the policy. critic: a reward model whose head gives the values (align-anything starts it
 * from the trained reward model); it is TRAINED IN PLACE, must not be built on the policy
 * itself, and must read the policy's ids and images; NULL makes a trainable copy of the policy
 * with a new head. reward and failures: as for grlhf_grpo_trainer_create.
 */
grlhf_status grlhf_ppo_trainer_create(grlhf_model *policy, grlhf_model *reference,
                                      grlhf_reward_model *critic, const grlhf_tokenizer *tokenizer,
                                      const char *prompts_jsonl, grlhf_reward *reward,
                                      const grlhf_ppo_params *params, grlhf_trainer **out);

/**
 * Runs one trainer step (a batch for SFT, reward model and DPO; a rollout batch and its
 * updates for GRPO) and records its metrics (grlhf_trainer_metrics; appended to the metrics
 * file when one is set). Steps past the run's total are allowed (the schedule stays at its
 * final rate).
 * A step that fails leaves the trainer as it was: no step counted, no rows consumed, no
 * weights changed. Returns GRLHF_ERR_CALLBACK when the reward callback failed (the message
 * carries its text), GRLHF_ERR_INVALID_ARGUMENT when a reward returned a non-finite value,
 * GRLHF_ERR_IO when the metrics file cannot be written (checked before the step),
 * GRLHF_ERR_MISUSE for a bad handle or a trainer already running.
 */
grlhf_status grlhf_trainer_step(grlhf_trainer *trainer);

/**
 * Called after every step of grlhf_trainer_train with the step number (1-based, counting
 * resumed steps) and the step's metrics: count pairs of names[i] (sorted by bytes; valid
 * while the trainer lives) and values[i]. Return 0 to continue, nonzero to stop cleanly after this step
 * (grlhf_trainer_train then returns GRLHF_OK).
 */
typedef int32_t (*grlhf_metrics_fn)(void *user_data, int64_t step, int64_t count,
                                    const char *const *names, const double *values);

/**
 * Runs steps until the run's total (steps 0) or at most `steps` more (> 0; never past the
 * total), calling callback (may be NULL) after each, and appending each step's metrics to the
 * metrics file when one is set (started afresh when the trainer is at step 0). Returns
 * GRLHF_OK when the total is reached, the steps are done, or the callback asked to stop;
 * a step that fails ends the run with its status (earlier steps stay done; see
 * grlhf_trainer_step). GRLHF_ERR_INVALID_ARGUMENT for negative steps.
 */
grlhf_status grlhf_trainer_train(grlhf_trainer *trainer, int64_t steps, grlhf_metrics_fn callback,
                                 void *user_data);

/**
 * Writes the steps taken (also those restored by grlhf_trainer_resume) into *step and the
 * run's total (params steps) into *total_steps. Both pointers must be non-NULL.
 */
grlhf_status grlhf_trainer_progress(const grlhf_trainer *trainer, int64_t *step, int64_t *total_steps);

/**
 * The metrics of step index + 1 (index 0..step-1), or of the last step (index -1; *count is 0
 * before the first step). Two-call pattern: names NULL, values NULL and capacity 0 ask for
 * the count; then names[i] (borrowed, sorted by bytes, valid while the trainer lives) and
 * values[i] receive count entries. *count always receives the number of metrics; a capacity
 * below it gives GRLHF_ERR_INVALID_ARGUMENT and leaves the arrays untouched. Values may be
 * NaN (e.g. the loss of a skipped non-finite step).
 */
grlhf_status grlhf_trainer_metrics(const grlhf_trainer *trainer, int64_t index, const char **names,
                                   double *values, int64_t capacity, int64_t *count);

/**
 * Sets the JSON Lines file each step's metrics are appended to (one object per step, keys
 * sorted, non-finite values as null); NULL stops writing. The file is opened at each step or
 * train call; the first step of a run (step 0) starts it afresh. GRLHF_ERR_INVALID_ARGUMENT
 * for a non-UTF-8 path.
 */
grlhf_status grlhf_trainer_set_metrics_path(grlhf_trainer *trainer, const char *path);

/**
 * Writes checkpoint dir/step-NNNNNN (the trained weights, AdamW's moments, the step, the
 * data order's cursor and every step's metrics) and points dir/latest at it; dir is created if
 * missing. Each checkpoint directory is written under a temporary name, fsynced and renamed,
 * so a crash leaves the previous one intact. GRLHF_ERR_IO when it cannot be written.
 */
grlhf_status grlhf_trainer_save_checkpoint(const grlhf_trainer *trainer, const char *dir);

/**
 * Restores a checkpoint into a trainer made with the same model shape, data and params: path
 * is a checkpoint directory, or a directory with a `latest` file (grlhf_trainer_save_checkpoint's
 * dir) naming one. Continuing then gives the same weights, bit for bit, as a run that never
 * stopped (at the same thread count). Returns GRLHF_ERR_IO (missing files),
 * GRLHF_ERR_INVALID_FORMAT (a damaged checkpoint, or one of another model: nothing is
 * changed then), GRLHF_ERR_INVALID_ARGUMENT (a checkpoint of a dataset of another size).
 */
grlhf_status grlhf_trainer_resume(grlhf_trainer *trainer, const char *path);

/**
 * Releases a trainer and its references to models and rewards (the trained weights stay in the
 * models). NULL is a no-op; a bad handle is ignored. Called from the trainer's own callback,
 * it ends the handle at once and the trainer itself when the running call returns.
 */
void grlhf_trainer_free(grlhf_trainer *trainer);

/* ---- Reward models --------------------------------------------------------------------- */

/**
 * A new reward model on model: the model's final hidden state at the last token through a
 * scalar head initialized from seed. The reward model SHARES the model's weights (training it
 * trains the model; a grlhf_model handle sees the changes). Free it with
 * grlhf_reward_model_free. GRLHF_ERR_MISUSE for a bad model handle.
 */
grlhf_status grlhf_reward_model_create(grlhf_model *model, uint64_t seed, grlhf_reward_model **out);

/**
 * Loads a reward model directory (a model directory that grlhf_model_load reads plus
 * score.safetensors holding "score.weight" [1, hidden]). Errors as grlhf_model_load; a missing
 * or wrong score.safetensors gives GRLHF_ERR_IO or GRLHF_ERR_INVALID_FORMAT.
 */
grlhf_status grlhf_reward_model_load(const char *dir, grlhf_reward_model **out);

/**
 * Writes the reward model as a directory grlhf_reward_model_load reads (the base model's
 * config.json and model.safetensors, and score.safetensors), each file replaced atomically.
 */
grlhf_status grlhf_reward_model_save(const grlhf_reward_model *reward_model, const char *dir);

/**
 * Scores n (question, image, response) rows, rendered as the trainers render them:
 * scores[i] is the reward of row i. questions and responses hold n UTF-8 strings; images is
 * NULL (no images) or holds n PNG paths or NULLs. scores receives n floats. n in 0..2^20;
 * the arrays may be NULL only when n is 0. Computes in batches of 16 without gradients.
 * Returns GRLHF_ERR_INVALID_ARGUMENT (NULL or non-UTF-8 strings, an image for a text-only
 * model, a tokenizer that does not fit the model), GRLHF_ERR_IO / GRLHF_ERR_INVALID_FORMAT (an
 * image), GRLHF_ERR_OUT_OF_MEMORY (rows too long), GRLHF_ERR_MISUSE (bad handles).
 * One thread at a time per reward model (and its base model).
 */
grlhf_status grlhf_reward_model_score(grlhf_reward_model *reward_model, const grlhf_tokenizer *tokenizer,
                                      int64_t n, const char *const *questions, const char *const *images,
                                      const char *const *responses, float *scores);

/** Releases a reward model. NULL is a no-op; a bad handle is ignored. */
void grlhf_reward_model_free(grlhf_reward_model *reward_model);

/* ---- Reward functions ------------------------------------------------------------------ */

/**
 * One prompt's sampled completions, lent to a reward callback for the duration of the call.
 * Fields may be appended in later versions: read only those below struct_size.
 */
typedef struct grlhf_reward_group {
    /** sizeof(grlhf_reward_group) in the library. */
    uint32_t struct_size;
    /** The prompt's question (UTF-8). */
    const char *question;
    /** The prompt's image path (resolved against the prompts file's folder), or NULL. */
    const char *image;
    /** The prompt's reference answer ("ground_truth"), or NULL. */
    const char *ground_truth;
    /** Number of completions (group_size). */
    int64_t count;
    /** count completion texts (UTF-8, special tokens such as <|im_end|> dropped). */
    const char *const *completions;
    /** count arrays of generated token ids (the final <|im_end|> included when sampled). */
    const int32_t *const *tokens;
    /** count lengths of the token arrays. */
    const int64_t *lengths;
    /** count flags: 1 where the completion hit max_new_tokens instead of ending its turn. */
    const int32_t *truncated;
} grlhf_reward_group;

/**
 * A reward function: writes group->count rewards (finite floats) into rewards_out and
 * returns 0; any other return fails the trainer's step with GRLHF_ERR_CALLBACK, leaving the
 * trainer as it was, and the step's error message carries the return value and the text the
 * callback gave grlhf_set_callback_error. Called on the thread running the step, once per
 * prompt. Entries left unwritten are NaN, which fails the step too.
 */
typedef int32_t (*grlhf_reward_fn)(void *user_data, const grlhf_reward_group *group, float *rewards_out);

/**
 * A reward from a C callback. fn must be non-NULL; user_data is passed through unchanged.
 * fn and user_data must stay valid while the reward or any trainer made with it lives.
 * Free it with grlhf_reward_free.
 */
grlhf_status grlhf_reward_create(grlhf_reward_fn fn, void *user_data, grlhf_reward **out);

/**
 * A reward that scores each completion alone with a reward model: (prompt question, image,
 * completion text) rendered with tokenizer, which must fit the reward model's base. The reward
 * keeps its own reference to the reward model. GRLHF_ERR_MISUSE for bad handles,
 * GRLHF_ERR_INVALID_ARGUMENT for a tokenizer that does not fit.
 */
grlhf_status grlhf_reward_from_reward_model(grlhf_reward_model *reward_model, const grlhf_tokenizer *tokenizer,
                                            grlhf_reward **out);

/**
 * A built-in rule reward by name: "contains-ground-truth" (1 when the completion contains the
 * prompt's ground_truth, ignoring case; else 0; a trainer made with it refuses prompts
 * without one). GRLHF_ERR_INVALID_ARGUMENT for an unknown name (the message lists the known
 * ones) or a NULL name or out.
 */
grlhf_status grlhf_reward_rule(const char *name, grlhf_reward **out);

/** Releases a reward. NULL is a no-op; a bad handle is ignored. Trainers using it keep it alive. */
void grlhf_reward_free(grlhf_reward *reward);

/**
 * Called by a callback (a grlhf_reward_fn) before returning nonzero: message (copied; NULL
 * clears it) becomes part of the failing call's error message. Per thread. Never fails.
 */
void grlhf_set_callback_error(const char *message);

/* ------------------------------------------------------------------------ */
/* The generative reward model (judge) and grouped comparison                */
/* ------------------------------------------------------------------------ */

/*
 * A grlhf_judge is a causal LM prompted with a judge template (the paper's by default) to write
 * criteria, an analysis and "\boxed{s1, s2}" for two responses to one question (and image). Its
 * output is read with the paper's parser: the last \boxed{...}, split on commas, exactly two
 * floats. Grouped comparison (the paper's stage 2) judges every pair of a group's complete
 * responses and turns the scores into one reward per response; stage 1 trains the judge itself
 * by GRPO with the accuracy reward (1 when the preferred response scores strictly higher).
 *
 * Generation: greedy by default (temperature 0, as the paper evaluates); every judgment stops at
 * <|im_end|> or max_new_tokens. All comparisons of one call decode in one batch, and the prefix
 * they share (instruction, image, question) is prefilled once. Judgment k of a call draws from
 * PCG32(seed, stream k), so a call's results depend only on its inputs and the judge's params.
 *
 * Lifetimes: a judge keeps its own references to its model and tokenizer (their handles may be
 * freed after grlhf_judge_create). It does NOT copy the model: a judge trainer trains it in
 * place, and other users of the model handle see the trained weights.
 *
 * Thread-safety: the calls on one judge handle (grlhf_judge_compare, _score_group, _accuracy,
 * and grouped-comparison rewards made from it, called by trainers) are serialized by a lock in
 * the handle, so they may come from several threads; they run one at a time. Nothing else may
 * compute with the judge's model meanwhile (another judge on the same model, a trainer of it,
 * grlhf_generate_group), and while a trainer made by grlhf_judge_trainer_create runs a step the
 * judge must not be used at all. A grlhf_comparisons is immutable: any thread may read it.
 */

/** The generative reward model. */
typedef struct grlhf_judge grlhf_judge;
/** The comparisons of one grlhf_judge_score_group call; owned by the library. */
typedef struct grlhf_comparisons grlhf_comparisons;

/** Parse status of a judgment: two scores were read (they may still be NaN or infinite). */
#define GRLHF_PARSE_OK 0
/** No "\boxed" in the output. */
#define GRLHF_PARSE_NO_BOX 1
/** "\boxed" without "{", or braces that never close. */
#define GRLHF_PARSE_UNCLOSED_BOX 2
/** A comma-separated piece of the box that is not a number (Python's float() rules). */
#define GRLHF_PARSE_NOT_A_NUMBER 3
/** Other than two numbers in the box. */
#define GRLHF_PARSE_WRONG_COUNT 4

/**
 * How a judge is made. Always start from grlhf_judge_params_default; a struct_size below the
 * size this library knows gives GRLHF_ERR_INVALID_ARGUMENT.
 */
typedef struct grlhf_judge_params {
    /** sizeof(grlhf_judge_params), set by grlhf_judge_params_default. */
    uint32_t struct_size;
    /** A JSON template file: {"instruction", "body" (with the slots {question}, {response_1},
        {response_2}, optionally {image} and {principles}), "instruction_placement": "system"
        (default) or "user", "principles_hint"}; read by grlhf_judge_create. NULL: the paper's
        template. Default NULL. */
    const char *template_path;
    /** Principles appended to every prompt as the template's hint (the paper's "with
        principles" variant); copied. NULL: none. Default NULL. */
    const char *principles;
    /** New tokens per judgment at most, 1..65536. Default 256. */
    int64_t max_new_tokens;
    /** Sampling temperature, finite >= 0; 0 is greedy. Default 0. */
    float temperature;
    /** Seeds sampling (unused when greedy). Default 0. */
    uint64_t seed;
} grlhf_judge_params;

/** Fills *out with the judge defaults and struct_size; GRLHF_ERR_INVALID_ARGUMENT for NULL. */
grlhf_status grlhf_judge_params_default(grlhf_judge_params *out);

/** parse_failure policies of grlhf_group_params. */
/** Leave a comparison whose output does not parse (or gives a non-finite score) out. */
#define GRLHF_PARSE_FAILURE_DROP 0
/** Score both of its responses 5.5, the middle of the 1..10 scale. */
#define GRLHF_PARSE_FAILURE_NEUTRAL 1

/** aggregators of grlhf_group_params: how comparisons become rewards. */
/** Each response's mean score over its comparisons (the paper's S(y_i)). */
#define GRLHF_AGGREGATE_MEAN 0
/** Sum over the others of P(i beats j); ties count half. Mapped onto 1..10. */
#define GRLHF_AGGREGATE_BORDA 1
/** Repeatedly drop the response with the fewest pairwise wins; later drops rank higher. */
#define GRLHF_AGGREGATE_INSTANT_RUNOFF 2
/** Tideman's ranked pairs. */
#define GRLHF_AGGREGATE_RANKED_PAIRS 3
/** Rank centrality: the stationary distribution of a walk towards winners. */
#define GRLHF_AGGREGATE_SPECTRAL 4

/**
 * How a group is scored by grouped comparison. Always start from grlhf_group_params_default;
 * a struct_size below the size this library knows gives GRLHF_ERR_INVALID_ARGUMENT.
 */
typedef struct grlhf_group_params {
    /** sizeof(grlhf_group_params), set by grlhf_group_params_default. */
    uint32_t struct_size;
    /** Nonzero judges every pair in both orders (n(n-1) judgments; cancels position bias);
        0 once, the earlier response first (n(n-1)/2). Default 1. */
    int32_t both_orders;
    /** GRLHF_PARSE_FAILURE_*. Default GRLHF_PARSE_FAILURE_DROP. */
    int32_t parse_failure;
    /** GRLHF_AGGREGATE_*. Default GRLHF_AGGREGATE_MEAN. */
    int32_t aggregator;
    /** Reward of a complete response with nothing to compare against (fewer than two complete
        responses, or all its comparisons dropped), finite. Default 5.5. */
    float lone_response_reward;
    /** Reward of an incomplete response (left out of every comparison), finite. Default 0. */
    float incomplete_reward;
} grlhf_group_params;

/** Fills *out with the grouped-comparison defaults and struct_size; GRLHF_ERR_INVALID_ARGUMENT for NULL. */
grlhf_status grlhf_group_params_default(grlhf_group_params *out);

/**
 * A judge on model, rendering prompts with tokenizer (which needs ChatML's <|im_end|>, no ids
 * beyond the model's vocabulary, and a token for a multimodal model's image placeholder).
 * params: NULL for the defaults. Free it with grlhf_judge_free.
 * Returns GRLHF_ERR_MISUSE (bad model or tokenizer handle), GRLHF_ERR_INVALID_ARGUMENT (NULL
 * out, params out of range or struct_size too small, non-UTF-8 strings, a tokenizer that does
 * not fit), GRLHF_ERR_IO (the template cannot be read) or GRLHF_ERR_INVALID_FORMAT (a template
 * that is not JSON or lacks a slot).
 */
grlhf_status grlhf_judge_create(grlhf_model *model, const grlhf_tokenizer *tokenizer,
                                const grlhf_judge_params *params, grlhf_judge **out);

/** Releases a judge. NULL is a no-op; a bad handle is ignored. Rewards and trainers made from it keep it alive. */
void grlhf_judge_free(grlhf_judge *judge);

/**
 * Judges one comparison: question (and the PNG at image_path, NULL for none; a multimodal model
 * only) with response_1 shown first. *score_1 and *score_2 receive the parsed scores (NaN when
 * *parse_status is not GRLHF_PARSE_OK), *parse_status a GRLHF_PARSE_* code, and text_buf the
 * judge's output (NUL-terminated UTF-8, capacity bytes including the NUL).
 *
 * Two-call pattern for the text: text_buf NULL and capacity 0 judge and fill everything but
 * the text; *text_len always receives its length in bytes without the NUL. The judge keeps its
 * last comparison, so the second call with the same arguments returns the same judgment without
 * judging again. A capacity <= the length returns GRLHF_ERR_INVALID_ARGUMENT (text_buf
 * untouched, *text_len set). score_1, score_2, parse_status and text_len must be non-NULL;
 * text_buf may be NULL only when capacity is 0. On any failure the scores are NaN and
 * *parse_status is -1 (an exception to the out-parameter rule).
 * Image placeholders written in the strings are removed. Also GRLHF_ERR_IO /
 * GRLHF_ERR_INVALID_FORMAT (the image), GRLHF_ERR_OUT_OF_MEMORY (a prompt whose prefill or KV
 * cache is above the tensor limit), GRLHF_ERR_MISUSE (bad judge handle).
 */
grlhf_status grlhf_judge_compare(grlhf_judge *judge, const char *image_path, const char *question,
                                 const char *response_1, const char *response_2, float *score_1,
                                 float *score_2, int32_t *parse_status, char *text_buf, int64_t capacity,
                                 int64_t *text_len);

/**
 * Rewards n responses to one question (and image_path, or NULL) by grouped comparison: the
 * complete responses are judged pairwise (in one batch) as params says, and rewards_out[i]
 * receives response i's reward. complete: n flags (nonzero: complete) or NULL for all complete;
 * an incomplete response is in no comparison and gets incomplete_reward. With fewer than two
 * complete responses nothing is judged.
 *
 * responses: n UTF-8 strings. n in 0..1024; responses and rewards_out may be NULL only when n
 * is 0. params: NULL for the defaults. diagnostics: NULL to skip, else *diagnostics receives a
 * new grlhf_comparisons with every judgment made (free it with grlhf_comparisons_free; NULL on
 * failure). On failure rewards_out is unspecified. Errors as grlhf_judge_compare, and
 * GRLHF_ERR_INVALID_ARGUMENT for bad params.
 */
grlhf_status grlhf_judge_score_group(grlhf_judge *judge, const char *image_path, const char *question,
                                     const char *const *responses, const uint8_t *complete, int64_t n,
                                     const grlhf_group_params *params, float *rewards_out,
                                     grlhf_comparisons **diagnostics);

/** Writes the number of comparisons (judgments) into *out. */
grlhf_status grlhf_comparisons_count(const grlhf_comparisons *comparisons, int64_t *out);

/**
 * Reads comparison index (0..count-1, in judging order): *first and *second the indices (into
 * the group's responses) of the responses shown as Response 1 and Response 2, *score_1 and
 * *score_2 their scores (NaN unless *parse_status is GRLHF_PARSE_OK), *parse_status a
 * GRLHF_PARSE_* code, *truncated 1 when the judgment hit max_new_tokens, and *text the judge's
 * output (borrowed; valid while the comparisons live). Any of the out-pointers may be NULL to
 * skip that value. An index out of range gives GRLHF_ERR_INVALID_ARGUMENT.
 */
grlhf_status grlhf_comparisons_get(const grlhf_comparisons *comparisons, int64_t index, int64_t *first,
                                   int64_t *second, float *score_1, float *score_2, int32_t *parse_status,
                                   int32_t *truncated, const char **text);

/** Releases comparisons and the texts they lent. NULL is a no-op; a bad handle is ignored. */
void grlhf_comparisons_free(grlhf_comparisons *comparisons);

/**
 * A reward for grlhf_grpo_trainer_create and grlhf_ppo_trainer_create that scores each
 * prompt's completions by grouped comparison with judge (completions that hit max_new_tokens
 * are incomplete). params: NULL for the defaults; copied. The reward keeps its own reference
 * to the judge. Steps of a trainer using it add the metrics "judge/calls",
 * "judge/calls_per_group" and "judge/parse_failure_rate". A judgment that cannot run (e.g. a
 * KV cache above the tensor limit) fails the step with its status.
 */
grlhf_status grlhf_reward_from_judge(grlhf_judge *judge, const grlhf_group_params *params, grlhf_reward **out);

/**
 * Judges every preference pair of pairs_jsonl (rows {"question", "image" (optional),
 * "response_1", "response_2", "preferred": 1 or 2}), 16 at a time, and writes into *accuracy
 * the fraction whose preferred response scored strictly higher (ties and parse failures are
 * wrong) and into *parse_failure_rate the fraction whose output did not parse. Both pointers
 * must be non-NULL; on failure both receive NaN. Errors as the trainer constructors for the
 * file, and as grlhf_judge_compare.
 */
grlhf_status grlhf_judge_accuracy(grlhf_judge *judge, const char *pairs_jsonl, float *accuracy,
                                  float *parse_failure_rate);

/**
 * A stage-1 GRPO trainer of the judge's model (trained IN PLACE) on the preference pairs of
 * pairs_jsonl: each pair becomes a prompt in the judge's template with its label as the ground
 * truth (swap_augment nonzero adds every pair with its responses swapped and the label
 * flipped), the judge's outputs are sampled with params' sampling fields, and the reward is 1
 * when they rank the preferred response strictly higher, else 0. Steps add the metrics
 * "judge/parse_failure_rate" and "judge/output_length". params: NULL for the paper's stage-1
 * settings (grlhf_grpo_params_default's values with max_new_tokens 256); the reference is a
 * frozen copy of the judge's model as it is now. Errors as grlhf_grpo_trainer_create
 * (GRLHF_ERR_MISUSE for a bad judge handle). Drive it with grlhf_trainer_step/_train and free it
 * with grlhf_trainer_free.
 */
grlhf_status grlhf_judge_trainer_create(grlhf_judge *judge, const char *pairs_jsonl, int32_t swap_augment,
                                        const grlhf_grpo_params *params, grlhf_trainer **out);

/* ------------------------------------------------------------------------ */
/* The Generative RLHF-V pipeline                                            */
/* ------------------------------------------------------------------------ */

/*
 * The whole method on a small scale, as `grlhf pipeline` runs it: from a folder of JSON Lines
 * sets (what `grlhf data easy-vqa` writes: sft.jsonl, prefs_train.jsonl, prefs_test_id.jsonl,
 * prefs_test_ood.jsonl, prompts_train.jsonl, prompts_test.jsonl, prompts_test_ood.jsonl), it
 * trains a tokenizer and a tiny multimodal model, the reward models the paper compares (a
 * Bradley-Terry RM, the untrained judge, GRM+SFT, GRM+RL), policies by GRPO with each reward and
 * by DPO, and the scaling run, and evaluates each on in-distribution and out-of-distribution
 * test sets. Every stage writes its result under the output directory (config.json,
 * summary.json, one folder per stage with metrics.jsonl and checkpoints) and is skipped when a
 * later run with the same output directory finds it finished, so an interrupted run resumes.
 *
 * The configuration is the Swift API's PipelineConfig: a preset ("tiny", the default that
 * `make demo` runs; "quick", a few dozen items and steps for tests; or "smol", EfficientNet-Lite0
 * and SmolLM2-135M-Instruct with LoRA from `make models`, hours) overridden by a JSON
 * object whose keys are those of OUTPUT/config.json (e.g. {"sftSteps": 50, "seed": 3}).
 * grlhf_pipeline_create checks every value (ranges, consistent model sizes) before anything
 * runs; relative paths are relative to the process's working directory.
 *
 * Thread-safety: a grlhf_pipeline belongs to one thread at a time; grlhf_pipeline_run called
 * while the same handle runs (from its log callback or another thread) returns
 * GRLHF_ERR_MISUSE. A run sets grlhf's compute threads process-wide to the config's "threads"
 * (see grlhf_set_threads) and writes each stage's progress bar to stderr.
 */

/** A configured pipeline run. */
typedef struct grlhf_pipeline grlhf_pipeline;

/**
 * How a pipeline is configured. Always start from grlhf_pipeline_params_default; a struct_size
 * below the size this library knows gives GRLHF_ERR_INVALID_ARGUMENT. The strings are read by
 * grlhf_pipeline_create only (copied).
 */
typedef struct grlhf_pipeline_params {
    /** sizeof(grlhf_pipeline_params), set by grlhf_pipeline_params_default. */
    uint32_t struct_size;
    /** "tiny", "quick" or "smol"; NULL is "tiny". Default NULL. */
    const char *preset;
    /** A JSON object overriding the preset's values, keys as in OUTPUT/config.json; an unknown
        key, a value of the wrong type or out of range gives GRLHF_ERR_INVALID_ARGUMENT. A
        non-empty "rewardFunctions" (Python reward functions) gives GRLHF_ERR_UNSUPPORTED: they
        need the embedded Python of the grlhf CLI, which libgrlhf does not link. NULL: the preset
        as it is. Default NULL. */
    const char *config_json;
    /** The folder of JSON Lines sets; overrides the config's "data". NULL keeps it. Default NULL. */
    const char *data_dir;
    /** The output folder (created if missing); overrides the config's "output". NULL keeps it.
        Default NULL. */
    const char *output_dir;
} grlhf_pipeline_params;

/** Fills *out with the defaults and struct_size; GRLHF_ERR_INVALID_ARGUMENT for NULL. */
grlhf_status grlhf_pipeline_params_default(grlhf_pipeline_params *out);

/**
 * Called with each line the pipeline logs (a stage resumed, the tokenizer's size, the result
 * tables at the end), on the thread running grlhf_pipeline_run. line is borrowed for the call.
 * The pipeline cannot be stopped from here (it is resumable instead: end the process and run
 * it again with the same output directory).
 */
typedef void (*grlhf_log_fn)(void *user_data, const char *line);

/**
 * Resolves a configuration (params: NULL for the tiny preset as it is) into a new pipeline in
 * *out; nothing is read or written yet. Free it with grlhf_pipeline_free.
 * Returns GRLHF_ERR_INVALID_ARGUMENT (NULL out; struct_size too small; an unknown preset;
 * config_json that is not a JSON object, has an unknown key, a value of the wrong type or out
 * of range, model sizes that do not fit together; an empty or non-UTF-8 string),
 * GRLHF_ERR_OUT_OF_MEMORY (batch and model sizes whose activations would exceed memory) or
 * GRLHF_ERR_UNSUPPORTED (a config key this library version cannot check yet).
 */
grlhf_status grlhf_pipeline_create(const grlhf_pipeline_params *params, grlhf_pipeline **out);

/**
 * The pipeline's resolved configuration as a JSON object (keys sorted, as the run writes
 * OUTPUT/config.json), with the two-call pattern and rules of grlhf_tokenizer_decode: buf NULL
 * and capacity 0 ask for *length (bytes without the NUL); a capacity <= the length returns
 * GRLHF_ERR_INVALID_ARGUMENT and leaves buf untouched. length must be non-NULL.
 */
grlhf_status grlhf_pipeline_config_json(const grlhf_pipeline *pipeline, char *buf, int64_t capacity,
                                        int64_t *length);

/**
 * Runs every stage not already finished in the output directory, calling log (may be NULL)
 * with user_data for each logged line, and keeps the summary (grlhf_pipeline_summary_json).
 * The data files are read and checked first: each of the seven must hold at least one valid
 * row. Returns GRLHF_OK when every stage finished; else GRLHF_ERR_IO (a file that cannot be
 * read or written), GRLHF_ERR_INVALID_FORMAT (a malformed row; the message names file and
 * line), GRLHF_ERR_INVALID_ARGUMENT (an empty set, a row that does not fit the model, another
 * pipeline running in the same output directory, in this process or another),
 * GRLHF_ERR_UNSUPPORTED (no OpenBLAS), GRLHF_ERR_MISUSE (a bad handle, or this pipeline is
 * already running). Finished stages stay finished after a failure. Can take minutes (the tiny
 * preset) or seconds (quick).
 */
grlhf_status grlhf_pipeline_run(grlhf_pipeline *pipeline, grlhf_log_fn log, void *user_data);

/**
 * The summary of the pipeline's last successful run as a JSON object (what OUTPUT/summary.json
 * holds: accuracies of each reward model and policy on the ID and OOD sets, overall and per
 * answer type; the scaling run; the reward-hacking watch; stage times; the run also writes
 * OUTPUT/report.html),
 * with the two-call pattern of grlhf_pipeline_config_json. GRLHF_ERR_MISUSE before a run
 * has succeeded (or for a bad handle).
 */
grlhf_status grlhf_pipeline_summary_json(const grlhf_pipeline *pipeline, char *buf, int64_t capacity,
                                         int64_t *length);

/** Releases a pipeline (its output directory stays). NULL is a no-op; a bad handle is ignored. */
void grlhf_pipeline_free(grlhf_pipeline *pipeline);

/* ------------------------------------------------------------------------ */
/* Diagnostics                                                               */
/* ------------------------------------------------------------------------ */

/**
 * The number of live handles of every type (created and not yet freed), for
 * leak tests. Thread-safe.
 */
int64_t grlhf_live_handles(void);

#ifdef __cplusplus
}
#endif

#endif /* GRLHF_H */
