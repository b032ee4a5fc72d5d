"""Writing files safely: every file iamlint writes is replaced atomically.

The new content goes to a temporary file in the same directory, is flushed to disk, and is
renamed over the target, so an interrupted run leaves either the old file or the new one.
A target that is a symbolic link is refused rather than followed. A target that is a FIFO or
a device (`--output sarif=/dev/stdout`) is written into, never replaced by a file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable


class WriteError(Exception):
    """A file could not be written where the user asked."""


def write_atomic(path: str, text: str | Iterable[str]) -> None:
    """`text`, or its pieces one after the other (a large report need never be one string)."""
    if os.path.islink(path):
        raise WriteError(f"{path}: refusing to write through a symbolic link")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise WriteError(f"{path}: cannot write: {exc.strerror or exc}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise WriteError(f"{path}: is a directory; expected a file name")
    if mode is not None and not stat.S_ISREG(mode):
        _write_special(path, text)
        return
    directory = os.path.dirname(os.path.abspath(path))
    import tempfile  # noqa: PLC0415 - importing it costs every run 4 ms; only writes need it

    try:
        fd, tmp = tempfile.mkstemp(prefix=".iamlint-", suffix=".tmp", dir=directory)
    except OSError as exc:  # a missing or read-only folder: named as the user named the file
        raise WriteError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        # backslashreplace: a lone surrogate (an undecodable byte in a file name, a "\udcff"
        # escape in a policy) is written as the escape \udcff, valid in JSON and readable in
        # text, rather than failing the whole write.
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="") as fh:
            if isinstance(text, str):
                fh.write(text)
            else:
                for piece in text:
                    fh.write(piece)
            fh.flush()
            os.fsync(fh.fileno())
        if os.path.exists(path):
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        else:  # as open() would make it (mkstemp's 0600 would hide a report meant to be shared)
            umask = os.umask(0o022)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _write_special(path: str, text: str | Iterable[str]) -> None:
    """Into a FIFO or device as it is: renaming a file over it would replace the device."""
    try:
        with open(path, "w", encoding="utf-8", errors="backslashreplace", newline="") as fh:
            fh.writelines((text,) if isinstance(text, str) else text)
    except OSError as exc:  # /dev/full: "No space left on device"
        raise WriteError(f"{path}: cannot write: {exc.strerror or exc}") from None
