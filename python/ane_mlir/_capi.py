"""ctypes declarations of include/ane/ane.h, and where libane.so is found."""

import ctypes
import os

# Statuses (ane_status).
OK = 0
INVALID_ARGUMENT = 1
LOAD_FAILED = 2
RUNTIME_ERROR = 3
BUFFER_TOO_SMALL = 4
CONTEXT_FULL = 5

EVAL_LAST = 0
EVAL_ALL_POSITIONS = 1

STOP_REASONS = {0: "max_tokens", 1: "eos", 2: "stopped", 3: "context"}

API_VERSION = 100  # ANE_API_VERSION this module was written for


class Options(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("tokenizer", ctypes.c_char_p),
        ("backend", ctypes.c_char_p),
        ("quant", ctypes.c_char_p),
        ("dtype", ctypes.c_char_p),
        ("weight_binding", ctypes.c_char_p),
        ("context", ctypes.c_int64),
        ("prefill", ctypes.c_int64),
        ("threads", ctypes.c_int32),
        ("verbose", ctypes.c_int32),
    ]


class Config(ctypes.Structure):
    _fields_ = [
        ("dim", ctypes.c_int64),
        ("hidden_dim", ctypes.c_int64),
        ("n_layers", ctypes.c_int64),
        ("n_heads", ctypes.c_int64),
        ("n_kv_heads", ctypes.c_int64),
        ("head_dim", ctypes.c_int64),
        ("vocab_size", ctypes.c_int64),
        ("max_seq_len", ctypes.c_int64),
        ("context", ctypes.c_int64),
        ("rope_theta", ctypes.c_double),
        ("norm_eps", ctypes.c_double),
        ("bos", ctypes.c_int32),
        ("eos", ctypes.c_int32),
        ("quant", ctypes.c_char_p),
        ("dtype", ctypes.c_char_p),
        ("backend", ctypes.c_char_p),
    ]


class Memory(ctypes.Structure):
    _fields_ = [
        ("weight_bytes", ctypes.c_uint64),
        ("kv_cache_bytes", ctypes.c_uint64),
        ("resident_bytes", ctypes.c_uint64),
        ("peak_resident_bytes", ctypes.c_uint64),
    ]


class Sampler(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("temperature", ctypes.c_float),
        ("top_k", ctypes.c_int32),
        ("top_p", ctypes.c_float),
        ("repeat_penalty", ctypes.c_float),
        ("repeat_last_n", ctypes.c_int32),
        ("seed", ctypes.c_uint64),
    ]


class Generation(ctypes.Structure):
    _fields_ = [
        ("prompt_tokens", ctypes.c_int64),
        ("new_tokens", ctypes.c_int64),
        ("prompt_seconds", ctypes.c_double),
        ("decode_seconds", ctypes.c_double),
        ("stop_reason", ctypes.c_int),
    ]


TOKEN_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int32,
                                  ctypes.POINTER(ctypes.c_char), ctypes.c_size_t)

_model_p = ctypes.c_void_p
_status = ctypes.c_int
_size_p = ctypes.POINTER(ctypes.c_size_t)
_ids_p = ctypes.POINTER(ctypes.c_int32)

_SIGNATURES = {
    "ane_api_version": (ctypes.c_int, []),
    "ane_status_name": (ctypes.c_char_p, [_status]),
    "ane_last_error": (ctypes.c_char_p, []),
    "ane_options_init": (None, [ctypes.POINTER(Options)]),
    "ane_model_open": (_status, [ctypes.c_char_p, ctypes.POINTER(Options),
                                 ctypes.POINTER(_model_p)]),
    "ane_model_close": (None, [_model_p]),
    "ane_model_config": (_status, [_model_p, ctypes.POINTER(Config)]),
    "ane_model_memory": (_status, [_model_p, ctypes.POINTER(Memory)]),
    "ane_tokenize": (_status, [_model_p, ctypes.c_char_p, ctypes.c_size_t,
                               ctypes.c_int, _ids_p, ctypes.c_size_t, _size_p]),
    "ane_detokenize": (_status, [_model_p, _ids_p, ctypes.c_size_t,
                                 ctypes.c_char_p, ctypes.c_size_t, _size_p]),
    "ane_position": (_status, [_model_p, ctypes.POINTER(ctypes.c_int64)]),
    "ane_kv_reset": (_status, [_model_p]),
    "ane_kv_truncate": (_status, [_model_p, ctypes.c_int64]),
    "ane_eval": (_status, [_model_p, _ids_p, ctypes.c_size_t, ctypes.c_int,
                           ctypes.POINTER(ctypes.c_float), ctypes.c_size_t]),
    "ane_sampler_init": (None, [ctypes.POINTER(Sampler)]),
    "ane_generate": (_status, [_model_p, ctypes.c_char_p,
                               ctypes.POINTER(Sampler), ctypes.c_int64,
                               TOKEN_CALLBACK, ctypes.c_void_p,
                               ctypes.POINTER(Generation)]),
}


def library_path():
    """$ANE_LIBRARY, else libane.so beside this package."""
    env = os.environ.get("ANE_LIBRARY")
    if env:
        return env
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "libane.so")


_lib = None


def lib():
    """libane, loaded once, its functions typed."""
    global _lib
    if _lib is None:
        path = library_path()
        if not os.path.exists(path):
            raise OSError(
                f"libane.so not found at {path}: build the ane-python target "
                "(build/python/ane_mlir carries it) or set ANE_LIBRARY")
        handle = ctypes.CDLL(path)
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(handle, name)
            fn.restype = restype
            fn.argtypes = argtypes
        version = handle.ane_api_version()
        if version // 100 != API_VERSION // 100:
            raise OSError(f"{path} has C API version {version}; this package "
                          f"needs {API_VERSION // 100}.x")
        _lib = handle
    return _lib
