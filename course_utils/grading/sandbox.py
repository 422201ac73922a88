"""Who runs the submissions: a separate unprivileged user where the platform allows, else the grader's own.

>>> Sandbox(None, None, "same user (root)").uid is None
True
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from course_utils.grading.errors import GraderError
from course_utils.grading.limits import SANDBOX_USER

RUNNER = Path(__file__).with_name("runner.py")


@dataclass
class Sandbox:
    uid: int | None  # None: same user as the grader
    gid: int | None
    description: str  # what the gradebook says under ran_as: "nobody", "same user (root)"
    note: str = ""  # why not a separate user, when not

    def popen_kwargs(self) -> dict:
        """``subprocess`` arguments that start a process as this user (none for the same user)."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []} if self.uid is not None else {}


def runner_command() -> list[str]:
    """How the runner is started: isolated (``-I``: no PYTHONPATH, no user site) and ``-B``.

    ``-B``: the runner imports this package; it must not write bytecode into it, or the
    integrity check would see the package change.
    """
    return [sys.executable, "-I", "-B", str(RUNNER)]


def current_user() -> str:
    """The grader's user name (its uid as text where there is no password database)."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return str(os.getuid())


def _run(command: list[str], env: dict, cwd: Path, sandbox: Sandbox) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
                              **sandbox.popen_kwargs())
    except (OSError, subprocess.SubprocessError) as error:  # e.g. the interpreter is not executable for them
        return subprocess.CompletedProcess(command, 126, "", f"{type(error).__name__}: {error}")


def _probe(env: dict, cwd: Path, sandbox: Sandbox) -> tuple[subprocess.CompletedProcess, str]:
    """Can ``sandbox`` run a kernel's imports and the runner? The result and, if not, why not."""
    code = ("import sys, course_utils, nbclient, ipykernel, nbformat; "
            "from course_utils.jsonable import write_answers; print(course_utils.__file__)")
    kernel = _run([sys.executable, "-c", code], env, cwd, sandbox)
    if kernel.returncode != 0:
        return kernel, (kernel.stderr.strip().splitlines() or ["?"])[-1]
    runner = _run(runner_command() + ["--probe"], env, cwd, sandbox)
    if runner.returncode != 0:
        return runner, "the runner: " + (runner.stderr.strip().splitlines() or ["?"])[-1]
    return kernel, ""


# What this process's probes found. Each probe starts two Pythons (0.4 to 0.5 s); a process that grades
# one batch after another with the same Python, package and environment (an instructor's notebook,
# the course's tests) probes once. A probe that fails is not kept: the next batch probes again.
_CHOSEN: dict[tuple, Sandbox] = {}


def choose_sandbox(run_as: str | None, env: dict, package_dir: Path) -> Sandbox:
    """Who runs the submissions: ``run_as`` (``"auto"``: ``nobody`` when root and usable; ``None``: us).

    A named user that cannot be used is a :class:`GraderError`; so is a Python that cannot
    import the course packages, or one that would import ``course_utils`` from elsewhere than
    ``package_dir``. The answer for the same Python, user, package and environment is probed once
    per process.
    """
    key = (sys.executable, run_as, str(Path(package_dir).resolve()), tuple(sorted(env.items())))
    if key not in _CHOSEN:
        _CHOSEN[key] = _probe_sandbox(run_as, env, package_dir)
    return replace(_CHOSEN[key])  # a copy: the caller's changes stay the caller's


def _probe_sandbox(run_as: str | None, env: dict, package_dir: Path) -> Sandbox:
    same = Sandbox(None, None, f"same user ({current_user()})")
    with tempfile.TemporaryDirectory(prefix="course-grade-probe-") as tmp:
        tmp = Path(tmp)
        probe_env = dict(env, HOME=str(tmp), TMPDIR=str(tmp), PYTHONDONTWRITEBYTECODE="1")
        sandbox, why_not = same, ""
        if run_as and sys.platform.startswith("linux"):
            user = SANDBOX_USER if run_as == "auto" else run_as
            try:
                import pwd

                entry = pwd.getpwnam(user)
            except (ImportError, KeyError):
                entry, why_not = None, f"there is no user {user!r}"
            if entry is not None and os.geteuid() != 0:
                entry, why_not = None, "the grader is not root, so it cannot switch users"
            if entry is not None:
                os.chmod(tmp, 0o755)
                candidate = Sandbox(entry.pw_uid, entry.pw_gid, user)
                _, problem = _probe(probe_env, tmp, candidate)
                if not problem:
                    sandbox = candidate
                else:
                    why_not = f"{user!r} cannot run {sys.executable} with the course packages ({problem})"
            if sandbox is same and run_as != "auto":
                raise GraderError(f"cannot run submissions as {run_as!r}: {why_not}.")
        elif run_as and run_as != "auto":
            raise GraderError(f"running as another user is supported on Linux only, not {sys.platform}; "
                              "use --same-user.")
        result, problem = _probe(probe_env, tmp, sandbox)
        if problem:
            raise GraderError(f"the kernels' Python cannot import the course packages ({problem}):\n"
                              f"{result.stderr[-2000:]}")
        imported = Path(result.stdout.strip().splitlines()[-1]).resolve().parent
        if imported != package_dir.resolve():
            raise GraderError(f"the kernels would import course_utils from {imported}, not from {package_dir}; "
                              "check PYTHONPATH.")
    if sandbox is same:
        sandbox.note = (f"submissions run as the grader's own user, not as a separate one: {why_not}" if why_not
                        else "submissions run as the grader's own user (asked for)")
    return sandbox


def chown_tree(path: Path, uid: int, gid: int) -> None:
    """Give ``path`` and everything in it to ``uid:gid`` (links themselves, never their targets)."""
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def force_remove(path: Path) -> None:
    """Remove a run's folder whatever the submission did to its permissions; links are not followed."""
    def retry(function, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o700)
            function(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=retry)
