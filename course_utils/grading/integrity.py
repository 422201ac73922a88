"""Hashes of the installed course_utils, taken before any submission runs and after each one.

>>> before = {"course_utils/a.py": "1", "course_utils/b.py": "2"}
>>> snapshot_changes(before, {"course_utils/a.py": "1", "course_utils/b.py": "3", "x.pth": "4"})
['course_utils/b.py', 'x.pth']
"""

from __future__ import annotations

import hashlib
import os
import site
from pathlib import Path

from course_utils.files import RefusedFile, open_regular


def watched_files(package_dir: Path) -> dict[str, Path]:
    """Every file of the package (``__pycache__`` too) and site-packages' ``.pth``/``*customize.py``."""
    files = {}
    for path in sorted(Path(package_dir).rglob("*")):
        if path.is_dir():
            continue  # __pycache__ included: a planted .pyc would run in later kernels
        files[f"{package_dir.name}/{path.relative_to(package_dir)}"] = path
    for sp in {Path(p) for p in site.getsitepackages()}:
        if sp.is_dir():
            for path in sorted(sp.glob("*.pth")) + sorted(sp.glob("*customize.py")):
                files[str(path)] = path
    return files


def _digest(path: Path) -> str:
    """sha256 of a regular file, read in chunks; a link or a pipe is described, never opened."""
    if path.is_symlink():
        return "link:" + os.readlink(path)
    try:
        fd = open_regular(path)
    except RefusedFile as refused:
        return refused.problem
    sha = hashlib.sha256()
    with os.fdopen(fd, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def package_snapshot(package_dir: Path) -> dict[str, str]:
    """``{file: sha256}`` of :func:`watched_files`; compare two with :func:`snapshot_changes`."""
    snapshot = {}
    for name, path in watched_files(Path(package_dir)).items():
        try:
            snapshot[name] = _digest(path)
        except OSError as error:
            snapshot[name] = f"unreadable: {error}"
    return snapshot


def snapshot_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The files added, removed or changed between two snapshots, sorted."""
    return sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
