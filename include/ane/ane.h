/*===- ane.h - the C API of ane-mlir (libane) -------------------*- C -*-===*\
|*                                                                          *|
|* Opens a model from any source ane-exec takes (.anepak, GGUF, llama2.c   *|
|* .bin, synthetic:NAME), compiling and packing it when it is not a        *|
|* .anepak, and runs it: tokenize, evaluate logits, generate with a        *|
|* sampler and a per-token callback, and manage the sequence it holds.     *|
|*                                                                          *|
|* Conventions:                                                             *|
|* - Every call returns an ane_status; on failure ane_last_error() gives    *|
|*   the message (naming the file, option or argument), kept per thread    *|
|*   until that thread's next failing call.                                 *|
|* - The caller owns every buffer: functions that return arrays or text    *|
|*   write into the caller's buffer and report the size; when it is too    *|
|*   small they return ANE_BUFFER_TOO_SMALL with the size needed and write  *|
|*   nothing. Strings the library returns (ane_config's names, messages)    *|
|*   stay valid as documented and are never freed by the caller.            *|
|* - A model is used by one thread at a time; different models may run on  *|
|*   different threads.                                                     *|
|* - No C++ exception leaves the library.                                   *|
|*                                                                          *|
\*===----------------------------------------------------------------------===*/

#ifndef ANE_ANE_H
#define ANE_ANE_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define ANE_API
#else
#define ANE_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The API version this header describes: a new major version may change
 * the structures below; a new minor one only adds functions. */
#define ANE_API_VERSION_MAJOR 1
#define ANE_API_VERSION_MINOR 0
#define ANE_API_VERSION (ANE_API_VERSION_MAJOR * 100 + ANE_API_VERSION_MINOR)

/* The API version of the library loaded (compare with ANE_API_VERSION). */
ANE_API int ane_api_version(void);

typedef enum ane_status {
  ANE_OK = 0,
  /* A null pointer, an unknown option, an id out of range. */
  ANE_INVALID_ARGUMENT = 1,
  /* The model could not be read, compiled or packed. */
  ANE_LOAD_FAILED = 2,
  /* The engine or a kernel failed. */
  ANE_RUNTIME_ERROR = 3,
  /* The size needed was reported; nothing was written. */
  ANE_BUFFER_TOO_SMALL = 4,
  /* The tokens do not fit the model's context. */
  ANE_CONTEXT_FULL = 5
} ane_status;

/* "ok", "invalid argument", ...: a static string. */
ANE_API const char *ane_status_name(ane_status status);

/* The message of this thread's last failing call ("" if none failed yet). */
ANE_API const char *ane_last_error(void);

/* How a model is opened. Initialize with ane_options_init, then set what
 * differs; zero and NULL fields mean the default. */
typedef struct ane_options {
  size_t struct_size; /* sizeof(ane_options), set by ane_options_init */
  /* A llama2.c tokenizer.bin, for checkpoints that carry none. */
  const char *tokenizer;
  /* Where kernels run: "cpu" (default), "cpu-reference", "ane-sim", "ane". */
  const char *backend;
  /* Weight storage: "f16", "q8", "q4", "q3", "lut4"; NULL: the source's. */
  const char *quant;
  /* Kernel compute type: "fp16" (default) or "fp32". */
  const char *dtype;
  /* How weights reach the kernels: "blob" (default) or "input". */
  const char *weight_binding;
  /* Positions the model holds; 0: the model's own context (a .anepak's is
   * fixed when it was compiled). */
  int64_t context;
  /* Prompt tokens per prefill call; 0: the backend's default (64 on cpu,
     with a bucket of 16 for the rest of a prompt; 16 elsewhere). */
  int64_t prefill;
  /* Threads for the kernels and packing; 0: every core. */
  int32_t threads;
  /* Nonzero: compile and packing notes and progress on stderr. */
  int32_t verbose;
} ane_options;

ANE_API void ane_options_init(ane_options *options);

typedef struct ane_model ane_model;

/* Opens `path` (NULL or "": the built-in default model, stories260K from
 * ../shared when it is there, else synthetic:tiny). `options` may be NULL
 * for the defaults. On success *model is set; close it with
 * ane_model_close. A .anepak refuses options that disagree with how it
 * was compiled. */
ANE_API ane_status ane_model_open(const char *path, const ane_options *options,
                                  ane_model **model);

/* Frees the model and everything it holds; NULL is ignored. */
ANE_API void ane_model_close(ane_model *model);

typedef struct ane_config {
  int64_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, head_dim;
  int64_t vocab_size;
  int64_t max_seq_len; /* the model's own context */
  int64_t context;     /* positions this opened model holds */
  double rope_theta, norm_eps;
  int32_t bos, eos;
  /* Valid until the model is closed. */
  const char *quant;   /* "f16", "q8", "q4", ... */
  const char *dtype;   /* "fp16" or "fp32" */
  const char *backend; /* where its kernels run */
} ane_config;

ANE_API ane_status ane_model_config(const ane_model *model, ane_config *config);

typedef struct ane_memory {
  uint64_t weight_bytes;        /* the packed weights (mapped or in memory) */
  uint64_t kv_cache_bytes;      /* the sequence's keys and values now */
  uint64_t resident_bytes;      /* this process's resident set now */
  uint64_t peak_resident_bytes; /* and its peak */
} ane_memory;

ANE_API ane_status ane_model_memory(const ane_model *model, ane_memory *memory);

/* The ids of `text` (`text_len` bytes; it need not be NUL-terminated),
 * BOS first when `add_bos` is nonzero, into ids[0..capacity). *n_ids is
 * the count (also when the buffer is too small). */
ANE_API ane_status ane_tokenize(const ane_model *model, const char *text,
                                size_t text_len, int add_bos, int32_t *ids,
                                size_t capacity, size_t *n_ids);

/* The text of `ids` (BOS and EOS give none; byte tokens give their byte),
 * NUL-terminated, into text[0..capacity). *text_len is its length without
 * the NUL (also when the buffer is too small: capacity must exceed it). */
ANE_API ane_status ane_detokenize(const ane_model *model, const int32_t *ids,
                                  size_t n_ids, char *text, size_t capacity,
                                  size_t *text_len);

/* The positions the model's sequence holds (0 after open or reset). */
ANE_API ane_status ane_position(const ane_model *model, int64_t *position);

/* Forgets the sequence and frees its keys and values. */
ANE_API ane_status ane_kv_reset(ane_model *model);

/* Keeps the first `n_positions` of the sequence (at most its length); the
 * next tokens continue from there. */
ANE_API ane_status ane_kv_truncate(ane_model *model, int64_t n_positions);

/* Evaluation flags. */
#define ANE_EVAL_LAST 0 /* the logits of the last token: vocab floats */
#define ANE_EVAL_ALL_POSITIONS 1 /* every token's: n_ids x vocab floats */

/* Appends `ids` to the sequence and writes logits into
 * logits[0..capacity) floats, as `flags` asks (logits may be NULL with
 * capacity 0 when none are wanted). Both run the tokens through the
 * prefill kernels. On failure the sequence is as it was. */
ANE_API ane_status ane_eval(ane_model *model, const int32_t *ids, size_t n_ids,
                            int flags, float *logits, size_t capacity);

typedef struct ane_sampler {
  size_t struct_size;   /* sizeof(ane_sampler), set by ane_sampler_init */
  float temperature;    /* 0: greedy (the default) */
  int32_t top_k;        /* 0: off */
  float top_p;          /* 1: off */
  float repeat_penalty; /* 1: off */
  int32_t repeat_last_n;
  uint64_t seed; /* the same seed repeats a run exactly */
} ane_sampler;

ANE_API void ane_sampler_init(ane_sampler *sampler);

/* Called with each new token and its text (not NUL-terminated; a byte
 * token may be part of a UTF-8 character). Return nonzero to stop. */
typedef int (*ane_token_callback)(void *user_data, int32_t token,
                                  const char *piece, size_t piece_len);

typedef enum ane_stop_reason {
  ANE_STOP_MAX_TOKENS = 0, /* max_tokens new tokens */
  ANE_STOP_EOS = 1,        /* the model sampled EOS (or BOS) */
  ANE_STOP_CALLBACK = 2,   /* the callback returned nonzero */
  ANE_STOP_CONTEXT = 3     /* the context is full */
} ane_stop_reason;

typedef struct ane_generation {
  int64_t prompt_tokens; /* BOS included */
  int64_t new_tokens;
  double prompt_seconds, decode_seconds;
  ane_stop_reason stop_reason;
} ane_generation;

/* Continues the sequence with `prompt` (BOS first when the sequence is
 * empty), then samples up to `max_tokens` new tokens, each passed to
 * `callback` (may be NULL), stopping early at EOS or BOS, when the
 * callback asks or when the context is full. The new tokens stay in the
 * sequence, so a later call continues the text; ane_kv_reset starts
 * afresh. An empty prompt is allowed when the sequence is not empty.
 * `sampler` NULL: greedy. `result` may be NULL. */
ANE_API ane_status ane_generate(ane_model *model, const char *prompt,
                                const ane_sampler *sampler, int64_t max_tokens,
                                ane_token_callback callback, void *user_data,
                                ane_generation *result);

#ifdef __cplusplus
}
#endif

#endif /* ANE_ANE_H */
