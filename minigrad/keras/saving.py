"""Saving and describing models: ``model.save`` / ``load_model`` (``.keras`` zips), weights files, ``summary``.

A ``.keras`` file is a zip, as Keras 3's: ``config.json`` (the Sequential's config with every
layer's ``get_config()`` in Keras's layout, so ``load_model`` rebuilds the layers with
``from_config``), ``metadata.json`` and ``model.weights.npz`` -- the weights as a NumPy ``.npz``
(key ``layers/<layer position>/vars/<i>``, Keras's layouts) instead of Keras's HDF5, because minigrad
does not depend on h5py: Keras itself cannot read these files and minigrad cannot read Keras's.
``save_weights(path)`` writes the same arrays with ``mg.save`` (a ``.weights.npz`` name is
advised; ``.h5`` is refused). Every file is written atomically (a temporary file renamed over the
target, ``minigrad.serialization.write_atomically``), so a crash mid-save never leaves a torn file.
The optimizer's state is not saved: a loaded model is compiled afresh.
"""
import io
import json
import os
import zipfile

import numpy as np

from .. import serialization
from ..fileio import as_path
from .layers.base import format_shape

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "summary"]

_WEIGHTS = "model.weights.npz"


def layer_config(layer):
    """Keras's serialised form of a layer (``module``, ``class_name``, ``config``, ``build_config``)."""
    entry = {"module": "keras.layers", "class_name": type(layer).__name__, "config": layer.get_config(),
             "registered_name": None}
    shape = getattr(layer, "_built_input_shape", None)
    if shape is not None:
        entry["build_config"] = {"input_shape": list(shape)}
    return entry


def input_layer_config(batch_shape, input_obj):
    """The InputLayer entry of a Sequential's config (the given Input's own config when there is one)."""
    if input_obj is not None and hasattr(input_obj, "get_config"):
        config = dict(input_obj.get_config())
        config["batch_shape"] = list(config.get("batch_shape", batch_shape))
    else:
        config = {"batch_shape": list(batch_shape), "dtype": "float32", "sparse": False, "name": "input_layer"}
    return {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None, "config": config}


def _config(model):
    out = {"module": "keras", "class_name": type(model).__name__, "config": model.get_config(),
           "registered_name": None}
    if getattr(model, "_input_shape", None) is not None:
        out["build_config"] = {"input_shape": list(model._input_shape)}
    if model.compiled:
        out["compile_config"] = {
            "optimizer": {"class_name": type(model.optimizer).__name__, "config": model.optimizer.get_config()},
            "loss": {"class_name": type(model.loss_fn).__name__, "config": model.loss_fn.get_config()}
            if not type(model.loss_fn).__name__ == "LossFunctionWrapper" else None,
            "metrics": model._compile_config["metrics"]}
    return out


def _check_target(path, overwrite, fname):
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{fname}: {path} exists and overwrite=False")


def save_model(model, filepath, overwrite=True):
    """Write ``model`` to a ``.keras`` zip (see the module docstring)."""
    path = as_path("save", filepath)
    if not path.endswith(".keras"):
        raise ValueError(f"Invalid filepath extension for saving. Please add the `.keras` extension to the "
                         f"filepath (minigrad.keras writes only the .keras format). Received: filepath={path}")
    _check_target(path, overwrite, "save")
    if not getattr(model, "built", True) or not model.layers:
        raise ValueError(f"save: model {model.name!r} is not built (no input shape known yet): build it or "
                         "call it on data first")
    config = json.dumps(_config(model), indent=1)
    meta = json.dumps({"keras_version": "3 (minigrad.keras)", "weights_format": "npz"})
    weights = io.BytesIO()
    np.savez(weights, **_weight_arrays(model))

    def write(out):
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("metadata.json", meta)
            zf.writestr("config.json", config)
            zf.writestr(_WEIGHTS, weights.getvalue())
    serialization.write_atomically(path, write, "save")


def _weight_arrays(model):
    """{'layers/<position>/vars/<i>': array}: matched by the layers' order, as Keras matches a
    Sequential's, so a fresh model (whose automatic layer names differ) loads them."""
    return {f"layers/{k}/vars/{i}": w
            for k, layer in enumerate(model.layers) for i, w in enumerate(layer.get_weights())}


def _set_weight_arrays(model, arrays, path):
    new = []
    for k, layer in enumerate(model.layers):
        keys = [f"layers/{k}/vars/{i}" for i in range(len(layer.weights))]
        missing = [key for key in keys if key not in arrays]
        if missing:
            raise ValueError(f"{path}: no weights for layer {k} ({layer.name!r}, missing {missing[0]}): the "
                             f"file was saved from a model with other layers")
        new += [arrays[key] for key in keys]
    if len(new) != len(arrays):
        raise ValueError(f"{path}: holds {len(arrays)} weights, model {model.name!r} has {len(new)}")
    model.set_weights(new)


def _layer_from_config(entry, custom_objects):
    from . import layers as layers_mod
    name = entry["class_name"]
    cls = (custom_objects or {}).get(name) or getattr(layers_mod, name, None)
    if cls is None:
        raise ValueError(f"load_model: unknown layer class {name!r} (pass it in custom_objects)")
    return cls.from_config(entry["config"])


def load_model(filepath, custom_objects=None, compile=True):
    """Rebuild a Sequential saved by ``save_model`` and load its weights (and compile it again)."""
    from .models import Sequential
    path = as_path("load_model", filepath)
    try:
        with zipfile.ZipFile(path) as zf:
            config = json.loads(zf.read("config.json"))
            with zf.open(_WEIGHTS) as fh:
                arrays = dict(np.load(io.BytesIO(fh.read()), allow_pickle=False))
    except (zipfile.BadZipFile, KeyError) as e:
        raise ValueError(f"load_model: {path} is not a .keras file written by minigrad.keras ({e})") from None
    if config.get("class_name") != "Sequential":
        raise ValueError(f"load_model: {path} holds a {config.get('class_name')!r}; minigrad.keras rebuilds "
                         "Sequential models only")
    cfg = config["config"]
    model = Sequential(name=cfg.get("name"))
    for entry in cfg["layers"]:
        model.add(_layer_from_config(entry, custom_objects))          # an InputLayer fixes the shape
    build = config.get("build_config", {}).get("input_shape")
    if build is not None and not model.built:
        model.build(tuple(build))
    _set_weight_arrays(model, arrays, path)
    cc = config.get("compile_config")
    if compile and cc:
        from . import losses, optimizers
        opt = getattr(optimizers, cc["optimizer"]["class_name"]).from_config(
            cc["optimizer"]["config"], custom_objects)     # a schedule of your own: in custom_objects
        loss = None
        if cc.get("loss"):
            loss = getattr(losses, cc["loss"]["class_name"]).from_config(cc["loss"]["config"])
        if loss is not None:
            model.compile(optimizer=opt, loss=loss, metrics=cc.get("metrics") or None)
    return model


def save_weights(model, filepath, overwrite=True):
    """Write every layer's weights (Keras's layouts) with ``mg.save``."""
    path = as_path("save_weights", filepath)
    if path.endswith(".h5"):
        raise ValueError(f"save_weights: {path}: minigrad.keras does not write HDF5 (no h5py dependency); "
                         "use a name ending in .weights.npz")
    _check_target(path, overwrite, "save_weights")
    serialization.save(_weight_arrays(model), path)


def load_weights(model, filepath):
    """Load weights written by ``save_weights`` (or a ``.keras`` file's) into a built model."""
    path = as_path("load_weights", filepath)
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as zf, zf.open(_WEIGHTS) as fh:
            arrays = dict(np.load(io.BytesIO(fh.read()), allow_pickle=False))
    else:
        arrays = serialization.load(path)
    if not getattr(model, "built", True):
        raise ValueError(f"load_weights: model {model.name!r} is not built yet (unknown input shape)")
    _set_weight_arrays(model, arrays, path)


# ------------------------------------------------------------------ summary
def summary(model, line_length=None, positions=None, print_fn=None):
    """Print Keras 2's table: Layer (type), Output Shape, Param #, and the totals."""
    print_fn = print_fn or print
    width = line_length or 65
    positions = positions or [0.45, 0.85, 1.0]
    if positions[-1] <= 1:
        positions = [int(width * p) for p in positions]
    if not getattr(model, "built", False):
        raise ValueError("This model has not yet been built. Build the model first by calling `build()` or "
                         "by calling the model on a batch of data.")

    def row(fields):
        line = ""
        for i, f in enumerate(fields):
            line += (" " if i == 0 else "") + str(f)
            line = line[:positions[i] - 1].ljust(positions[i])
        print_fn(line.rstrip() + " " * 0)

    print_fn(f'Model: "{model.name}"')
    print_fn("_" * width)
    row(["Layer (type)", "Output Shape", "Param #"])
    print_fn("=" * width)
    shape = getattr(model, "_input_shape", None)        # None: a subclassed Model, shapes unknown
    for i, layer in enumerate(model.layers):
        shape = None if shape is None else tuple(layer.compute_output_shape(shape))
        row([f"{layer.name} ({type(layer).__name__})", "?" if shape is None else format_shape(shape),
             layer.count_params()])
        print_fn("" if i < len(model.layers) - 1 else "=" * width)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    total = model.count_params()
    print_fn(f"Total params: {total:,}")
    print_fn(f"Trainable params: {trainable:,}")
    print_fn(f"Non-trainable params: {total - trainable:,}")
    print_fn("_" * width)
