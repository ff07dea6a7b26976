"""A model opened through libane: tokenize, logits, generate, stream."""

import codecs
import ctypes
import dataclasses
import queue
import threading

import numpy as np

from . import _capi


class AneError(Exception):
    """A failed libane call: `status` is its ane_status name, the message
    is the library's (it names the file, option or argument)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _check(status):
    if status != _capi.OK:
        lib = _capi.lib()
        raise AneError(lib.ane_status_name(status).decode(),
                       lib.ane_last_error().decode(errors="replace"))


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    dim: int
    hidden_dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    vocab_size: int
    max_seq_len: int  # the model's own context
    context: int  # positions this opened model holds
    rope_theta: float
    norm_eps: float
    bos: int
    eos: int
    quant: str
    dtype: str
    backend: str


@dataclasses.dataclass(frozen=True)
class GenerationStats:
    prompt_tokens: int
    new_tokens: int
    prompt_seconds: float
    decode_seconds: float
    stop_reason: str  # "max_tokens", "eos", "stopped" or "context"


def _c_string(value):
    return None if value is None else str(value).encode()


def _ids_array(ids):
    ids = [int(i) for i in ids]
    return (ctypes.c_int32 * len(ids))(*ids), len(ids)


class Model:
    """Model(path, tokenizer=None, backend=None, quant=None, dtype=None,
    weight_binding=None, context=0, prefill=0, threads=0, verbose=False).

    `path` is anything ane-exec's -m takes (.anepak, .gguf, llama2.c .bin,
    synthetic:NAME; None: the built-in default). The other options are
    ane-exec's flags of the same names; None and 0 are the defaults. The
    model holds one sequence: `eval` continues it, `logits` and `generate`
    start afresh unless asked not to. One thread at a time uses a model.
    """

    def __init__(self, path=None, *, tokenizer=None, backend=None, quant=None,
                 dtype=None, weight_binding=None, context=0, prefill=0,
                 threads=0, verbose=False):
        lib = _capi.lib()
        options = _capi.Options()
        lib.ane_options_init(ctypes.byref(options))
        options.tokenizer = _c_string(tokenizer)
        options.backend = _c_string(backend)
        options.quant = _c_string(quant)
        options.dtype = _c_string(dtype)
        options.weight_binding = _c_string(weight_binding)
        options.context = int(context)
        options.prefill = int(prefill)
        options.threads = int(threads)
        options.verbose = 1 if verbose else 0
        handle = ctypes.c_void_p()
        self._handle = None
        self._lock = threading.Lock()
        _check(lib.ane_model_open(_c_string(path), ctypes.byref(options),
                                  ctypes.byref(handle)))
        self._handle = handle
        self._vocab = self.config.vocab_size  # sizes every logits array
        self.last_generation = None

    # -- lifetime ------------------------------------------------------------

    def close(self):
        if self._handle is not None:
            _capi.lib().ane_model_close(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def _model(self):
        if self._handle is None:
            raise AneError("invalid argument", "the model is closed")
        return self._handle

    # -- what it is ----------------------------------------------------------

    @property
    def config(self):
        c = _capi.Config()
        _check(_capi.lib().ane_model_config(self._model(), ctypes.byref(c)))
        values = {name: getattr(c, name) for name, _ in _capi.Config._fields_}
        for name in ("quant", "dtype", "backend"):
            values[name] = values[name].decode()
        return ModelConfig(**values)

    def memory(self):
        """Bytes: weights, KV cache, the process's resident set and peak."""
        m = _capi.Memory()
        _check(_capi.lib().ane_model_memory(self._model(), ctypes.byref(m)))
        return {name: getattr(m, name) for name, _ in _capi.Memory._fields_}

    # -- tokens --------------------------------------------------------------

    def tokenize(self, text, bos=True):
        data = text.encode() if isinstance(text, str) else bytes(text)
        lib, n = _capi.lib(), ctypes.c_size_t()
        # At most a token a byte, with BOS, EOS and SentencePiece's space;
        # asked again with the count if a vocabulary needs more.
        capacity = len(data) + 3
        while True:
            ids = (ctypes.c_int32 * capacity)()
            status = lib.ane_tokenize(self._model(), data, len(data),
                                      int(bool(bos)), ids, capacity,
                                      ctypes.byref(n))
            if status != _capi.BUFFER_TOO_SMALL:
                _check(status)
                return list(ids[:n.value])
            capacity = n.value

    def detokenize_bytes(self, ids):
        array, count = _ids_array(ids)
        lib, n = _capi.lib(), ctypes.c_size_t()
        status = lib.ane_detokenize(self._model(), array, count, None, 0,
                                    ctypes.byref(n))
        if status not in (_capi.OK, _capi.BUFFER_TOO_SMALL):
            _check(status)
        text = ctypes.create_string_buffer(n.value + 1)
        _check(lib.ane_detokenize(self._model(), array, count, text,
                                  n.value + 1, ctypes.byref(n)))
        return text.raw[:n.value]

    def detokenize(self, ids):
        """The text of `ids`; bytes that are not UTF-8 become U+FFFD."""
        return self.detokenize_bytes(ids).decode("utf-8", errors="replace")

    # -- the sequence --------------------------------------------------------

    @property
    def position(self):
        p = ctypes.c_int64()
        _check(_capi.lib().ane_position(self._model(), ctypes.byref(p)))
        return p.value

    def reset(self):
        _check(_capi.lib().ane_kv_reset(self._model()))

    def truncate(self, n_positions):
        _check(_capi.lib().ane_kv_truncate(self._model(), int(n_positions)))

    def eval(self, ids, all_positions=False):
        """Continues the sequence with `ids`; the logits of the last one
        ([vocab]) or of each ([len(ids), vocab]), float32."""
        array, count = _ids_array(ids)
        rows = count if all_positions else 1
        out = np.empty((rows, self._vocab), dtype=np.float32)
        flags = _capi.EVAL_ALL_POSITIONS if all_positions else _capi.EVAL_LAST
        with self._lock:
            _check(_capi.lib().ane_eval(
                self._model(), array, count, flags,
                out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), out.size))
        return out if all_positions else out[0]

    def logits(self, ids):
        """The logits of every position of `ids` in a fresh sequence:
        float32 [len(ids), vocab]."""
        self.reset()
        return self.eval(ids, all_positions=True)

    # -- generation ----------------------------------------------------------

    def _sampler(self, temperature, top_p, top_k, repeat_penalty,
                 repeat_last_n, seed):
        s = _capi.Sampler()
        _capi.lib().ane_sampler_init(ctypes.byref(s))
        s.temperature = float(temperature)
        s.top_p = float(top_p)
        s.top_k = int(top_k)
        s.repeat_penalty = float(repeat_penalty)
        if repeat_last_n is not None:
            s.repeat_last_n = int(repeat_last_n)
        s.seed = int(seed)
        return s

    def _generate(self, prompt, max_tokens, sampler, on_piece, fresh):
        """Runs ane_generate, passing each piece's bytes to `on_piece`
        (which returns True to stop)."""

        def callback(_user, _token, piece, length):
            return 1 if on_piece(ctypes.string_at(piece, length)) else 0

        c_callback = _capi.TOKEN_CALLBACK(callback)
        g = _capi.Generation()
        with self._lock:
            if fresh:
                self.reset()
            _check(_capi.lib().ane_generate(
                self._model(), prompt.encode(), ctypes.byref(sampler),
                int(max_tokens), c_callback, None, ctypes.byref(g)))
        self.last_generation = GenerationStats(
            g.prompt_tokens, g.new_tokens, g.prompt_seconds, g.decode_seconds,
            _capi.STOP_REASONS.get(g.stop_reason, str(g.stop_reason)))
        return self.last_generation

    def generate(self, prompt, max_tokens=128, temperature=0.0, top_p=1.0,
                 seed=0, *, top_k=0, repeat_penalty=1.0, repeat_last_n=None,
                 fresh=True):
        """The text generated after `prompt` (not the prompt itself). A
        fresh sequence unless fresh=False, which continues the last one.
        Stats of the run are in `last_generation`."""
        pieces = []
        sampler = self._sampler(temperature, top_p, top_k, repeat_penalty,
                                repeat_last_n, seed)
        self._generate(prompt, max_tokens, sampler,
                       lambda b: pieces.append(b) and False, fresh)
        return b"".join(pieces).decode("utf-8", errors="replace")

    def stream(self, prompt, max_tokens=128, temperature=0.0, top_p=1.0,
               seed=0, *, top_k=0, repeat_penalty=1.0, repeat_last_n=None,
               fresh=True):
        """generate(), yielding text as it comes (whole UTF-8 characters).
        Closing the generator early stops the generation."""
        sampler = self._sampler(temperature, top_p, top_k, repeat_penalty,
                                repeat_last_n, seed)
        # A short queue keeps the generation a few tokens ahead of the
        # reader at most, so closing the generator stops it soon.
        pieces = queue.Queue(maxsize=2)
        stop = threading.Event()
        failure = []

        def on_piece(data):
            pieces.put(data)
            return stop.is_set()

        def run():
            try:
                self._generate(prompt, max_tokens, sampler, on_piece, fresh)
            except BaseException as e:  # handed to the consumer below
                failure.append(e)
            finally:
                pieces.put(None)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        ended = False  # the worker's None was read
        try:
            while True:
                data = pieces.get()
                if data is None:
                    ended = True
                    break
                text = decoder.decode(data)
                if text:
                    yield text
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail
            if failure:
                raise failure[0]
        finally:
            stop.set()
            # Unblocks the worker's put; it ends with None.
            while not ended:
                ended = pieces.get() is None
            worker.join()
