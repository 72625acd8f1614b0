"""``SummaryWriter``: TensorBoard logging under PyTorch's name (``torch.utils.tensorboard.SummaryWriter``).

    from minigrad.utils.tensorboard import SummaryWriter
    with SummaryWriter("runs/lm") as w:
        w.add_scalar("loss/train", loss.item(), step)

Event files are written by the ``tensorboard`` package's own writer (``EventFileWriter`` and its
protocol buffers), so TensorBoard and its ``EventAccumulator`` read them as any other run's. The
package is an optional extra: ``pip install "minigrad[tensorboard]"``; without it importing this
module raises an ImportError saying so. Scalars are written as PyTorch writes them (``simple_value``),
text through TensorBoard's text plugin, histograms as ``HistogramProto`` buckets.
"""
import os
import socket
import time
from datetime import datetime

import numpy as np

try:
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
except ImportError as e:     # pragma: no cover - exercised only where tensorboard is absent
    raise ImportError('minigrad.utils.tensorboard needs the tensorboard package: pip install '
                      f'"minigrad[tensorboard]" (or pip install tensorboard) ({e})') from None

__all__ = ["SummaryWriter"]


def _default_log_dir(comment):
    """PyTorch's default: runs/<Mon DD_HH-MM-SS>_<hostname><comment>."""
    stamp = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")


def _scalar(value, where):
    """A Python float from a number, a 1-element array or a minigrad Tensor (``.item()``)."""
    a = np.asarray(getattr(value, "data", value))
    if a.size != 1 or a.dtype.kind not in "biuf":
        raise ValueError(f"{where}: expected a single number, got {type(value).__name__} of shape {a.shape}")
    return float(a.reshape(()))


def _tf_bucket_limits():
    """TensorFlow's default histogram edges: +-1e-12 * 1.1^k up to 1e20, and 0."""
    pos = 1e-12 * 1.1 ** np.arange(int(np.ceil(np.log(1e20 / 1e-12) / np.log(1.1))))
    return np.concatenate([-pos[::-1], [0.0], pos])


_TF_EDGES = _tf_bucket_limits()


def _histogram(values, bins, max_bins):
    """A HistogramProto of ``values`` (finite), bucketed as ``np.histogram(bins)`` ('tensorflow' edges
    by default), with empty leading/trailing buckets dropped as PyTorch does."""
    v = np.asarray(getattr(values, "data", values), dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("add_histogram: values is empty")
    if not np.isfinite(v).all():
        raise ValueError("add_histogram: values contain NaN or infinity")
    counts, limits = np.histogram(v, bins=_TF_EDGES if bins == "tensorflow" else bins)
    if max_bins is not None and len(counts) > max_bins:
        sub = -(-len(counts) // max_bins)
        pad = (-len(counts)) % sub
        counts = np.pad(counts, (0, pad)).reshape(-1, sub).sum(axis=1)
        limits = np.concatenate([limits[:-1:sub], limits[-1:]])
    nz = np.nonzero(counts)[0]
    start, end = (nz[0], nz[-1] + 1) if nz.size else (0, len(counts))
    counts, limits = counts[start:end], limits[start:end + 1]
    return HistogramProto(min=float(v.min()), max=float(v.max()), num=int(v.size), sum=float(v.sum()),
                          sum_squares=float(np.dot(v, v)), bucket_limit=limits[1:].tolist(),
                          bucket=counts.astype(np.float64).tolist())


class SummaryWriter:
    """Writes TensorBoard event files to ``log_dir`` (PyTorch's signature and methods)."""

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120, filename_suffix=""):
        if purge_step is not None:
            raise NotImplementedError("SummaryWriter: purge_step is not supported")
        self.log_dir = os.fspath(log_dir) if log_dir is not None else _default_log_dir(comment)
        self._max_queue, self._flush_secs, self._suffix = max_queue, flush_secs, filename_suffix
        os.makedirs(self.log_dir, exist_ok=True)
        self._file_writer = EventFileWriter(self.log_dir, max_queue, flush_secs, filename_suffix)
        self._sub_writers = {}            # add_scalars: one writer per (main_tag, tag) directory
        self._closed = False

    def get_logdir(self):
        return self.log_dir

    def _event(self, summary, global_step, walltime, writer=None):
        if self._closed:
            raise RuntimeError(f"SummaryWriter({self.log_dir!r}) is closed")
        ev = Event(summary=summary, wall_time=time.time() if walltime is None else float(walltime))
        if global_step is not None:
            ev.step = int(_scalar(global_step, "global_step"))
        (writer or self._file_writer).add_event(ev)

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False, double_precision=False):
        """One scalar ``scalar_value`` (a number or a one-element tensor) under ``tag`` at ``global_step``."""
        value = _scalar(scalar_value, f"add_scalar({tag!r})")
        self._event(Summary(value=[Summary.Value(tag=tag, simple_value=value)]), global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several scalars on one chart: each key goes to ``log_dir/<main_tag>_<key>`` under ``main_tag``."""
        for tag, value in tag_scalar_dict.items():
            path = os.path.join(self.log_dir, f"{main_tag.replace('/', '_')}_{tag}")
            writer = self._sub_writers.get(path)
            if writer is None:
                writer = self._sub_writers[path] = EventFileWriter(path, self._max_queue, self._flush_secs,
                                                                   self._suffix)
            summary = Summary(value=[Summary.Value(tag=main_tag, simple_value=_scalar(value, f"add_scalars({tag!r})"))])
            self._event(summary, global_step, walltime, writer)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None):
        """A histogram of ``values`` (array or tensor); ``bins`` as ``np.histogram`` or 'tensorflow'."""
        self._event(Summary(value=[Summary.Value(tag=tag, histo=_histogram(values, bins, max_bins))]),
                    global_step, walltime)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """A text (Markdown) entry, shown by TensorBoard's text plugin."""
        meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))
        tensor = TensorProto(dtype="DT_STRING", string_val=[str(text_string).encode("utf-8")],
                             tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
        self._event(Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=meta, tensor=tensor)]),
                    global_step, walltime)

    def flush(self):
        """Write everything queued to disk."""
        for w in [self._file_writer, *self._sub_writers.values()]:
            w.flush()

    def close(self):
        """Flush and close the event files (idempotent)."""
        if self._closed:
            return
        for w in [self._file_writer, *self._sub_writers.values()]:
            w.flush()
            w.close()
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
