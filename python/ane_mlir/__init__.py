"""ane-mlir from Python: a model opened through libane (the C API).

    from ane_mlir import Model
    with Model("stories260K.bin", tokenizer="tok512.bin") as m:
        print(m.generate("Once upon a time", max_tokens=32))

`ane_mlir.reference` is a NumPy Llama forward pass that reads the weights
itself: an oracle independent of the C++ code.
"""

from .model import AneError, GenerationStats, Model, ModelConfig

__all__ = ["AneError", "GenerationStats", "Model", "ModelConfig"]
