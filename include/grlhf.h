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
 * Loads a model directory (config.json + model.safetensors) into *out; free it
 * with grlhf_model_free. config.json's model_type chooses the model: "llama"
 * or "qwen2" (a Hugging Face checkpoint) or "llava" (a multimodal directory as
 * grlhf_model_save and `grlhf init-model` write it). Loads OpenBLAS if no
 * earlier call has.
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
 * SmolLM2) into *out; free it with grlhf_tokenizer_free.
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
