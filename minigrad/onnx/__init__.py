"""``minigrad.onnx``: write a trained model as an ONNX file, PyTorch's ``torch.onnx.export``.

    import minigrad.onnx
    minigrad.onnx.export(model, (ids,), "model.onnx", input_names=["ids"], output_names=["logits"],
                         dynamic_axes={"ids": {0: "T", 1: "B"}, "logits": {0: "T", 1: "B"}})

The export runs ONE forward pass of the model in eval mode under a tracer (:mod:`.trace`) that
records every op and every recurrent layer, then maps the records to ONNX operators (:mod:`.ops`,
:mod:`.recurrent`) in a graph of initialisers and nodes (:mod:`.graph`). With ``dynamic_axes`` a
second pass at sizes grown by one along every dynamic axis tells which traced constants (reshape
targets) follow those axes. docs/onnx.md lists what exports and the limits.

Needs the optional extra ``pip install "minigrad[onnx]"`` (onnx; onnxruntime to run the file).
Importing this module works without it; calling :func:`export` then says what to install.
"""
from .export import export
from .graph import ExportError

__all__ = ["export", "ExportError"]
