"""Finding and ending every process of a grading run, with psutil; used by the grader and its runner.

A run's processes are found two ways: by ancestry (everything below the runner, which is a
child subreaper, so orphans stay below it) and by a random marker in their environment (a
daemon that left by a double fork and ``setsid``). They are all stopped first, so none can fork
away while we look, then killed.

>>> import subprocess, sys
>>> sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
>>> sleeper.pid in {p.pid for p in descendants(os.getpid())}
True
>>> stop_then_kill(lambda: {psutil.Process(sleeper.pid)})
1
>>> sleeper.wait(timeout=10) == -signal.SIGKILL
True
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterable

import psutil

from course_utils.grading.limits import RUN_MARKER_VARIABLE


def descendants(root: int) -> set[psutil.Process]:
    """Every process below ``root`` (children, their children...); empty if ``root`` is gone."""
    try:
        return set(psutil.Process(root).children(recursive=True))
    except psutil.Error:
        return set()


def marked(marker: str, variable: str = RUN_MARKER_VARIABLE) -> set[psutil.Process]:
    """Processes whose environment holds ``variable=marker`` (this process excluded).

    Only processes whose environment we may read are seen: our own user's, or all as root.
    """
    found = set()
    for process in psutil.process_iter():
        if process.pid == os.getpid():
            continue
        try:
            if process.environ().get(variable) == marker:
                found.add(process)
        except psutil.Error:  # gone, a zombie, or not ours to read
            pass
    return found


def stop_then_kill(find: Callable[[], Iterable[psutil.Process]], rounds: int = 10) -> int:
    """SIGSTOP everything ``find()`` returns, again until it finds nothing new, then SIGKILL it all.

    Stopping first means a process cannot fork a new one between our looking and our killing.
    Returns how many processes were killed. ``psutil.Process`` checks a process's start time
    before signalling it, so a pid reused meanwhile by an unrelated process is left alone.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be 1 or more, not {rounds}: it is how often to look for new processes.")
    stopped: set[psutil.Process] = set()
    for _ in range(rounds):
        new = set(find()) - stopped
        if not new:
            break
        for process in new:
            try:
                process.suspend()
            except psutil.Error:
                pass
        stopped |= new
    killed = 0
    for process in stopped:
        try:
            process.kill()
            killed += 1
        except psutil.Error:
            pass
    return killed


def kill_run(proc: subprocess.Popen | None, marker: str, wait_s: float = 10.0) -> None:
    """End a run: the runner's session, everything below the runner, everything carrying ``marker``.

    The grader calls this when a run ends or passes its time limit, before it reads anything the
    run wrote back, so nothing of the run is left to race with the reading.
    """
    if proc is not None and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGSTOP)  # the runner's session: it was started in a new one
        except OSError:
            pass
    root = proc.pid if proc is not None else None
    stop_then_kill(lambda: (descendants(root) if root is not None else set()) | marked(marker))
    if proc is not None and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    if proc is not None:
        try:
            proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            pass


def end_descendants(root: int | None = None, wait_s: float = 5.0) -> int:
    """Stop and kill every process below ``root`` (default: this one), then reap them.

    The runner calls this for itself when the notebook is done: the kernel and anything it left.
    Returns how many processes were killed.
    """
    root = os.getpid() if root is None else root
    found: set[psutil.Process] = set()

    def find() -> set[psutil.Process]:
        below = descendants(root)
        found.update(below)
        return below

    killed = stop_then_kill(find)
    # Children of ours (orphans re-parented to a subreaper included) are reaped by wait_procs.
    psutil.wait_procs(list(found), timeout=wait_s)
    return killed
