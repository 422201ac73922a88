"""Reading a run's answers and working files back, after its processes are gone; nothing here waits.

Every file read on a submission's behalf goes through :func:`course_utils.files.read_regular`
(type checked without opening, opened non-blocking without following links, size-capped), and
the whole read-back runs under a time limit (:func:`bounded`), like the run itself.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> os.mkfifo(folder / "_answers.json")  # a pipe instead of the answers: refused, not waited on
>>> read_answers(folder / "_answers.json")
(None, 'the answers file is a named pipe (FIFO), not a regular file')
>>> _ = (folder / "_answers.json").unlink(), (folder / "_answers.json").write_text('{"total": 4}')
>>> read_answers(folder / "_answers.json")
({'total': 4}, '')
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from course_utils.exercises.core import MAX_EXPORT_BYTES
from course_utils.files import RefusedFile, read_regular
from course_utils.grading.limits import MAX_WORKING_FILE_BYTES

T = TypeVar("T")


class ReadBackTimeout(Exception):
    """Reading a run's files back took longer than its limit."""


def _no_constants(name: str):
    raise ValueError(f"{name} is not allowed in answers")


def read_answers(path: Path) -> tuple[dict | None, str]:
    """The exported answers, or ``None`` and why not. Only a regular file, JSON, an object."""
    try:
        data = read_regular(path, MAX_EXPORT_BYTES)
    except FileNotFoundError:
        return None, "no answers were exported"
    except RefusedFile as refused:
        if refused.problem.startswith("larger"):
            return None, f"the exported answers are larger than {MAX_EXPORT_BYTES:,} bytes"
        return None, f"the answers file is {refused.problem}, not a regular file"
    except OSError as error:
        return None, f"the answers file could not be opened ({error.strerror or error})"
    try:
        values = json.loads(data.decode("utf-8"), parse_constant=_no_constants)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        return None, f"the exported answers are not valid JSON ({type(error).__name__})"
    if not isinstance(values, dict):
        return None, "the exported answers are not a JSON object"
    return values, ""


def copy_working_files(names: Iterable[str], workdir: Path, dest: Path) -> dict[str, str]:
    """Copy the files questions read from ``workdir`` into ``dest``; return ``{file: why it was refused}``.

    Only regular files inside ``workdir`` (no links, no folders that are links), at most
    ``MAX_WORKING_FILE_BYTES`` each. A missing file is left out without a problem: the
    question then says it was not found.
    """
    problems: dict[str, str] = {}
    root = Path(workdir).resolve()
    for name in dict.fromkeys(names):
        source = workdir / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            problems[name] = f"{name!r} is not a path inside the working folder"
            continue
        if not os.path.lexists(source):
            continue
        if os.path.realpath(source) != os.path.normpath(root / name):
            problems[name] = f"the file {name!r} is a link, not a file the notebook wrote: write a regular file"
            continue
        try:
            data = read_regular(source, MAX_WORKING_FILE_BYTES)
        except FileNotFoundError:
            continue
        except RefusedFile as refused:
            if refused.problem.startswith("larger"):
                problems[name] = f"the file {name!r} is larger than {MAX_WORKING_FILE_BYTES:,} bytes"
            else:
                problems[name] = (f"{name!r} is {refused.problem}, not a regular file: write the file itself "
                                  "(open(..., 'w')), not a pipe, socket, device or link")
            continue
        except OSError as error:
            problems[name] = f"the file {name!r} could not be read ({error.strerror or error})"
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        # dest is the grader's own fresh folder: nothing of the submission's can be there.
        with open(target, "xb") as handle:
            handle.write(data)
    return problems


def bounded(function: Callable[[], T], timeout: float, what: str = "reading the run's files back") -> T:
    """``function()``, or :class:`ReadBackTimeout` if it has not returned after ``timeout`` seconds.

    It runs in a daemon thread: past the limit the grader goes on, and the thread is left to
    finish (or not) on its own.

    >>> bounded(lambda: 4, timeout=5)
    4
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, not {timeout}: give the seconds {what} may take.")
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = function()
        except BaseException as error:  # handed to the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="grader-readback", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise ReadBackTimeout(f"{what} took longer than {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
