"""Opening a path for reading only when it is a regular file (used by ``mg.load`` and ``load_idx``).

A FIFO would block ``open()`` (and then ``read()``) forever, a directory or a device is never a
checkpoint or a data file: such paths are refused with the caller's exception type naming the path
and what it is. The check is made twice: on the path before opening, and on the opened descriptor
(opened with ``O_NONBLOCK``, so a path swapped for a FIFO in between cannot block the open either).
A missing path raises ``FileNotFoundError`` as usual.
"""
import os
import stat

__all__ = ["as_path", "file_kind", "open_regular"]


def as_path(fname, path):
    """``path`` (str, bytes or os.PathLike, ``~`` expanded) as a str, or a TypeError naming ``fname``."""
    try:
        return os.fsdecode(os.path.expanduser(os.fspath(path)))
    except TypeError:
        raise TypeError(f"{fname}: expected a path (str or os.PathLike), got {type(path).__name__} "
                        f"{path!r:.80}") from None


def file_kind(mode):
    """What an ``st_mode`` is, for error messages: "a directory", "a FIFO", ..."""
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return kind
    return "not a regular file"


def open_regular(path, error, what):
    """``(binary file object, size in bytes)`` of the regular file at ``path``; otherwise raises
    ``error(f"{path}: {what} (<kind>, not a regular file)")``."""
    def refuse(mode):
        raise error(f"{path}: {what} ({file_kind(mode)}, not a regular file)")

    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        refuse(st.st_mode)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    fh = os.fdopen(fd, "rb")
    st = os.fstat(fh.fileno())
    if not stat.S_ISREG(st.st_mode):
        fh.close()
        refuse(st.st_mode)
    return fh, st.st_size
