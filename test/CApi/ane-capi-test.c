/*===- ane-capi-test.c - libane from C, as a C program ------------------===*\
|*                                                                          *|
|* Usage: ane-capi-test SHARED_DIR                                          *|
|* Opens stories260K through the C API and checks tokenizing, generation   *|
|* (against llama2.c's golden story), logits, the sequence calls and the   *|
|* errors. Compiled as C: the header must be C, and nothing C++ leaks.     *|
|* Prints one line per check and "all passed"; exits 1 on the first miss.  *|
\*===----------------------------------------------------------------------===*/

#include "include/ane/ane.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (cond) {                                                                \
      printf("ok: ");                                                          \
    } else {                                                                   \
      printf("FAIL (%s:%d): ", __FILE__, __LINE__);                            \
      ++failures;                                                              \
    }                                                                          \
    printf(__VA_ARGS__);                                                       \
    printf("\n");                                                              \
  } while (0)

/* Stops the test when a call that later checks rely on fails. */
#define REQUIRE_OK(call)                                                       \
  do {                                                                         \
    ane_status s_ = (call);                                                    \
    if (s_ != ANE_OK) {                                                        \
      printf("FAIL (%s:%d): %s: %s: %s\n", __FILE__, __LINE__, #call,          \
             ane_status_name(s_), ane_last_error());                           \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

static char *readFile(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    printf("FAIL: cannot open %s\n", path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = malloc((size_t)n + 1);
  if (fread(text, 1, (size_t)n, f) != (size_t)n)
    n = 0;
  text[n] = '\0';
  fclose(f);
  return text;
}

/* Collects what ane_generate passes its callback, with llama2.c's print
 * rule (a lone byte that is neither printable nor space is dropped). */
typedef struct {
  char text[8192];
  size_t length;
  int calls;
  int stopAfter; /* 0: never */
} Collected;

static int collect(void *user, int32_t token, const char *piece, size_t n) {
  Collected *c = (Collected *)user;
  (void)token;
  ++c->calls;
  int printable = n != 1 || (piece[0] >= 32 && piece[0] < 127) ||
                  piece[0] == '\n' || piece[0] == '\t' || piece[0] == ' ';
  if (printable && c->length + n < sizeof(c->text)) {
    memcpy(c->text + c->length, piece, n);
    c->length += n;
    c->text[c->length] = '\0';
  }
  return c->stopAfter && c->calls >= c->stopAfter;
}

static size_t argmax(const float *v, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n; ++i)
    if (v[i] > v[best])
      best = i;
  return best;
}

static void checkErrors(const char *shared, ane_model *model) {
  char path[4096];
  ane_model *none = NULL;
  snprintf(path, sizeof(path), "%s/models/no-such-model.gguf", shared);
  ane_status s = ane_model_open(path, NULL, &none);
  CHECK(s == ANE_LOAD_FAILED && none == NULL &&
            strstr(ane_last_error(), "no-such-model.gguf"),
        "a missing file: %s: %s", ane_status_name(s), ane_last_error());

  ane_options o;
  ane_options_init(&o);
  o.quant = "q5";
  snprintf(path, sizeof(path), "%s/models/stories260K-f32.gguf", shared);
  s = ane_model_open(path, &o, &none);
  CHECK(s == ANE_INVALID_ARGUMENT && strstr(ane_last_error(), "quant"),
        "an unknown quant: %s", ane_last_error());

  o.quant = NULL;
  o.struct_size = 8;
  s = ane_model_open(path, &o, &none);
  CHECK(s == ANE_INVALID_ARGUMENT && strstr(ane_last_error(), "struct_size"),
        "an options struct of the wrong size: %s", ane_last_error());

  int32_t bad = 512;
  s = ane_eval(model, &bad, 1, ANE_EVAL_LAST, NULL, 0);
  CHECK(s == ANE_INVALID_ARGUMENT && strstr(ane_last_error(), "512"),
        "an id outside the vocabulary: %s", ane_last_error());

  s = ane_eval(model, &bad, 1, 7, NULL, 0);
  CHECK(s == ANE_INVALID_ARGUMENT && strstr(ane_last_error(), "flags"),
        "unknown eval flags: %s", ane_last_error());

  s = ane_eval(NULL, &bad, 1, ANE_EVAL_LAST, NULL, 0);
  CHECK(s == ANE_INVALID_ARGUMENT && strstr(ane_last_error(), "model"),
        "a NULL model: %s", ane_last_error());

  float small[4];
  int32_t one = 1;
  int64_t before = -1, after = -1;
  ane_position(model, &before);
  s = ane_eval(model, &one, 1, ANE_EVAL_LAST, small, 4);
  ane_position(model, &after);
  CHECK(s == ANE_BUFFER_TOO_SMALL && before == after,
        "a logits buffer too small changes nothing: %s", ane_last_error());

  ane_sampler bad_sampler;
  ane_sampler_init(&bad_sampler);
  bad_sampler.top_p = 0;
  s = ane_generate(model, "x", &bad_sampler, 1, NULL, NULL, NULL);
  CHECK(s == ANE_INVALID_ARGUMENT && strstr(ane_last_error(), "top_p"),
        "top_p 0: %s", ane_last_error());
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s SHARED_DIR\n", argv[0]);
    return 2;
  }
  const char *shared = argv[1];
  CHECK(ane_api_version() == ANE_API_VERSION, "API version %d",
        ane_api_version());

  char model_path[4096], tok_path[4096], golden_path[4096];
  snprintf(model_path, sizeof(model_path), "%s/models/stories260K.bin", shared);
  snprintf(tok_path, sizeof(tok_path), "%s/models/tok512.bin", shared);
  snprintf(golden_path, sizeof(golden_path),
           "%s/golden/stories260K_greedy_once_upon_a_time_n200.txt", shared);

  ane_options options;
  ane_options_init(&options);
  options.tokenizer = tok_path;
  ane_model *model = NULL;
  REQUIRE_OK(ane_model_open(model_path, &options, &model));

  ane_config c;
  REQUIRE_OK(ane_model_config(model, &c));
  CHECK(c.dim == 64 && c.n_layers == 5 && c.n_heads == 8 && c.n_kv_heads == 4 &&
            c.vocab_size == 512 && c.max_seq_len == 512 && c.context == 512 &&
            c.bos == 1 && c.eos == 2,
        "config: dim %lld, %lld layers, %lld/%lld heads, vocab %lld, "
        "context %lld",
        (long long)c.dim, (long long)c.n_layers, (long long)c.n_heads,
        (long long)c.n_kv_heads, (long long)c.vocab_size, (long long)c.context);
  CHECK(strcmp(c.quant, "f16") == 0 && strcmp(c.dtype, "fp16") == 0 &&
            strcmp(c.backend, "cpu") == 0,
        "storage %s, compute %s, backend %s", c.quant, c.dtype, c.backend);

  /* Tokens: llama2.c's ids (../shared/golden/tokenize_tok512.tsv). */
  const char *prompt = "Once upon a time";
  int32_t ids[16];
  size_t n = 0;
  ane_status s = ane_tokenize(model, prompt, strlen(prompt), 1, ids, 2, &n);
  CHECK(s == ANE_BUFFER_TOO_SMALL && n == 5,
        "a short id buffer reports the 5 ids needed (%zu)", n);
  REQUIRE_OK(ane_tokenize(model, prompt, strlen(prompt), 1, ids, 16, &n));
  CHECK(n == 5 && ids[0] == 1 && ids[1] == 403 && ids[2] == 407 &&
            ids[3] == 261 && ids[4] == 378,
        "tokenize: %zu ids, %d %d %d %d %d", n, ids[0], ids[1], ids[2], ids[3],
        ids[4]);
  char text[256];
  size_t len = 0;
  s = ane_detokenize(model, ids, n, text, 5, &len);
  CHECK(s == ANE_BUFFER_TOO_SMALL && len == strlen(prompt),
        "a short text buffer reports the length %zu", len);
  REQUIRE_OK(ane_detokenize(model, ids, n, text, sizeof(text), &len));
  CHECK(strcmp(text, prompt) == 0 && len == strlen(prompt),
        "detokenize: \"%s\"", text);

  /* Greedy generation: llama2.c's story, the prompt echoed first. */
  char *golden = readFile(golden_path);
  Collected story;
  memset(&story, 0, sizeof(story));
  ane_generation g;
  REQUIRE_OK(ane_generate(model, prompt, NULL, 196, collect, &story, &g));
  char full[8400];
  snprintf(full, sizeof(full), "%s%s\n", prompt, story.text);
  CHECK(strcmp(full, golden) == 0,
        "greedy generation equals llama2.c's golden story (%lld new tokens)",
        (long long)g.new_tokens);
  CHECK(g.prompt_tokens == 5 && g.new_tokens == 196 &&
            g.stop_reason == ANE_STOP_MAX_TOKENS && story.calls == 196,
        "generation: %lld prompt tokens, %lld new, stop %d, %d callbacks",
        (long long)g.prompt_tokens, (long long)g.new_tokens, (int)g.stop_reason,
        story.calls);
  int64_t pos = 0;
  REQUIRE_OK(ane_position(model, &pos));
  CHECK(pos == 201, "the sequence holds prompt and story: %lld",
        (long long)pos);
  free(golden);

  /* A callback that stops, and a continuation of the same sequence. */
  REQUIRE_OK(ane_kv_reset(model));
  Collected first;
  memset(&first, 0, sizeof(first));
  first.stopAfter = 3;
  REQUIRE_OK(ane_generate(model, prompt, NULL, 50, collect, &first, &g));
  REQUIRE_OK(ane_position(model, &pos));
  CHECK(g.new_tokens == 3 && g.stop_reason == ANE_STOP_CALLBACK && pos == 8,
        "the callback stops after 3 tokens (position %lld)", (long long)pos);
  Collected rest;
  memset(&rest, 0, sizeof(rest));
  REQUIRE_OK(ane_generate(model, "", NULL, 10, collect, &rest, &g));
  Collected whole;
  memset(&whole, 0, sizeof(whole));
  REQUIRE_OK(ane_kv_reset(model));
  REQUIRE_OK(ane_generate(model, prompt, NULL, 13, collect, &whole, &g));
  char joined[16800];
  snprintf(joined, sizeof(joined), "%s%s", first.text, rest.text);
  CHECK(strcmp(joined, whole.text) == 0,
        "3 tokens, then 10 more from an empty prompt = 13 at once: \"%s\"",
        whole.text);

  /* Logits of every position through the prefill kernels (a 16-token
   * chunk, then single tokens) against one token per call. */
  const char *longer =
      "Once upon a time, there was a little girl named Lily. She loved to";
  int32_t seq[64];
  size_t n_seq = 0;
  REQUIRE_OK(ane_tokenize(model, longer, strlen(longer), 1, seq, 64, &n_seq));
  size_t vocab = (size_t)c.vocab_size;
  float *all = malloc(n_seq * vocab * sizeof(float));
  float *one = malloc(n_seq * vocab * sizeof(float));
  float *last = malloc(vocab * sizeof(float));
  REQUIRE_OK(ane_kv_reset(model));
  REQUIRE_OK(
      ane_eval(model, seq, n_seq, ANE_EVAL_ALL_POSITIONS, all, n_seq * vocab));
  REQUIRE_OK(ane_kv_reset(model));
  for (size_t i = 0; i < n_seq; ++i)
    REQUIRE_OK(
        ane_eval(model, seq + i, 1, ANE_EVAL_LAST, one + i * vocab, vocab));
  float worst = 0;
  int same = 1;
  for (size_t p = 0; p < n_seq; ++p) {
    for (size_t i = 0; i < vocab; ++i) {
      float d = fabsf(all[p * vocab + i] - one[p * vocab + i]);
      worst = d > worst ? d : worst;
    }
    same &= argmax(all + p * vocab, vocab) == argmax(one + p * vocab, vocab);
  }
  CHECK(n_seq > 16 && worst < 0.05f && same,
        "%zu positions: all at once and one by one agree (max difference "
        "%g, same argmax)",
        n_seq, worst);
  REQUIRE_OK(ane_kv_reset(model));
  REQUIRE_OK(ane_eval(model, seq, n_seq, ANE_EVAL_LAST, last, vocab));
  CHECK(memcmp(last, all + (n_seq - 1) * vocab, vocab * sizeof(float)) == 0,
        "ANE_EVAL_LAST gives the last row of ANE_EVAL_ALL_POSITIONS");

  /* Truncating to 2 and running the rest again gives the same logits. */
  REQUIRE_OK(ane_kv_truncate(model, 2));
  REQUIRE_OK(ane_position(model, &pos));
  int identical = pos == 2;
  for (size_t i = 2; i < n_seq; ++i) {
    REQUIRE_OK(ane_eval(model, seq + i, 1, ANE_EVAL_LAST, last, vocab));
    identical &= memcmp(last, one + i * vocab, vocab * sizeof(float)) == 0;
  }
  CHECK(identical, "truncate to 2 and re-run the rest: identical logits");

  /* A full context refuses more tokens and keeps the sequence. */
  int32_t *many = malloc(512 * sizeof(int32_t));
  for (int i = 0; i < 512; ++i)
    many[i] = ids[i % 5];
  REQUIRE_OK(ane_kv_reset(model));
  REQUIRE_OK(ane_eval(model, many, 510, ANE_EVAL_LAST, NULL, 0));
  s = ane_eval(model, many, 3, ANE_EVAL_LAST, NULL, 0);
  REQUIRE_OK(ane_position(model, &pos));
  CHECK(s == ANE_CONTEXT_FULL && pos == 510,
        "510 + 3 positions do not fit 512: %s", ane_last_error());
  Collected tail;
  memset(&tail, 0, sizeof(tail));
  REQUIRE_OK(ane_generate(model, "", NULL, 10, collect, &tail, &g));
  CHECK(g.stop_reason == ANE_STOP_CONTEXT || g.stop_reason == ANE_STOP_EOS,
        "generation stops at the end of the context (stop %d, %lld tokens)",
        (int)g.stop_reason, (long long)g.new_tokens);

  ane_memory m;
  REQUIRE_OK(ane_model_memory(model, &m));
  CHECK(m.weight_bytes > 0 && m.kv_cache_bytes > 0 && m.resident_bytes > 0 &&
            m.peak_resident_bytes >= m.resident_bytes,
        "memory: weights %llu, KV %llu, resident %llu, peak %llu",
        (unsigned long long)m.weight_bytes,
        (unsigned long long)m.kv_cache_bytes,
        (unsigned long long)m.resident_bytes,
        (unsigned long long)m.peak_resident_bytes);

  checkErrors(shared, model);
  ane_model_close(model);
  ane_model_close(NULL);
  free(all);
  free(one);
  free(last);
  free(many);
  if (failures) {
    printf("%d checks failed\n", failures);
    return 1;
  }
  printf("all passed\n");
  return 0;
}
