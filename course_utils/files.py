"""Writing files whole or not at all, and reading files someone else may have planted.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> write_atomic(folder / "out" / "grades.csv", "student,points\\n").name
'grades.csv'
>>> read_regular(folder / "out" / "grades.csv", max_bytes=100)
b'student,points\\n'
>>> os.mkfifo(folder / "pipe")
>>> try:
...     read_regular(folder / "pipe", max_bytes=100)  # refused at once: opening a pipe would wait
... except RefusedFile as refused:
...     print(refused.problem)
a named pipe (FIFO)
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISLNK, "a link"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


class RefusedFile(ValueError):
    """A file that :func:`read_regular` will not read: not a regular file, or too big."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem  # "a named pipe (FIFO)", "larger than 100 bytes": for callers' own wording
        super().__init__(f"{path} is {problem}, not a regular file." if not problem.startswith("larger")
                         else f"{path} is {problem}.")


def file_kind(mode: int) -> str:
    """What ``st_mode`` describes, in words.

    >>> file_kind(os.lstat("/").st_mode), file_kind(stat.S_IFIFO)
    ('a folder', 'a named pipe (FIFO)')
    """
    for test, words in _KINDS:
        if test(mode):
            return words
    return "a regular file" if stat.S_ISREG(mode) else "a special file"


def open_regular(path: str | Path) -> int:
    """A read-only descriptor of ``path`` if it is a regular file (not a link); never waits.

    Three guards, because a file someone else controls can change between them: its type is
    checked without opening it (``lstat``); it is opened with ``O_NONBLOCK | O_NOFOLLOW``, so a
    pipe swapped in meanwhile does not make the open wait for a writer and a link swapped in
    is refused; what was opened must be a regular file (``fstat``). Raises
    ``FileNotFoundError`` if it is missing, :class:`RefusedFile` for any other kind of file,
    ``OSError`` if it cannot be opened. Close the descriptor with ``os.close``.
    """
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        raise RefusedFile(path, file_kind(info.st_mode))
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP or os.path.islink(path):
            raise RefusedFile(path, "a link") from None
        raise
    opened = os.fstat(fd)
    if not stat.S_ISREG(opened.st_mode):
        os.close(fd)
        raise RefusedFile(path, file_kind(opened.st_mode))
    return fd


def read_regular(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of ``path`` if it is a regular file (not a link) of at most ``max_bytes``; never waits.

    Opened with :func:`open_regular`; a file bigger than ``max_bytes`` (before or while it is
    read) raises :class:`RefusedFile` without reading more than ``max_bytes + 1`` bytes.
    """
    if max_bytes < 0:
        raise ValueError(f"max_bytes must be 0 or more, not {max_bytes}: pass the largest size you accept.")
    fd = open_regular(path)
    try:
        if os.fstat(fd).st_size > max_bytes:
            raise RefusedFile(path, f"larger than {max_bytes:,} bytes")
        chunks, size = [], 0
        while size <= max_bytes:  # a file that grows while we read still stops at the limit
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > max_bytes:
        raise RefusedFile(path, f"larger than {max_bytes:,} bytes")
    return b"".join(chunks)


def write_atomic(path: str | Path, data: str | bytes, *, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` whole: to a temporary file in the same folder, then moved into place.

    A reader sees the old file or the new one, never half of it, and an interruption leaves no
    temporary file behind. ``mode``: the new file's permissions (default: an existing file's
    own, else ``0o666`` less the umask, as ``open`` would). Text is written as UTF-8. Whatever
    is at ``path`` (a pipe, a link) is replaced, never opened. Returns ``path``.
    """
    path = Path(path)
    if not isinstance(data, (str, bytes)):
        raise TypeError(f"write_atomic writes text or bytes, not {type(data).__name__}: convert it first "
                        "(json.dumps(...) for data).")
    if mode is None:
        try:
            existing = os.lstat(path)
            mode = stat.S_IMODE(existing.st_mode) if stat.S_ISREG(existing.st_mode) else None
        except FileNotFoundError:
            pass
    if mode is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())  # on disk before it replaces the old file: a crash keeps one of them
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def append_text(path: str | Path, text: str) -> bool:
    """Append ``text`` to ``path`` (created if missing) if it is a regular file; never waits.

    A pipe or a link planted at ``path`` is not written (a pipe without a reader would make a
    plain ``open`` wait forever). Returns False when nothing was written.
    """
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        os.write(fd, text.encode("utf-8"))
        return True
    finally:
        os.close(fd)


@contextmanager
def exclusive(lock_path: str | Path):
    """Run the block while holding an exclusive lock on ``lock_path`` (created if missing), so that
    two processes (two notebooks, two test workers) never do the same slow work at once: the second
    waits, then finds the first one's result. Where the platform has no ``fcntl`` (Windows) the block
    runs unlocked, which is only slower, never wrong, for callers that write their result atomically.

    >>> import tempfile
    >>> with exclusive(Path(tempfile.mkdtemp()) / "work.lock"):
    ...     print("alone")
    alone
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    Path(lock_path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock
