"""The instructor's grader: run each submitted notebook in a fresh, limited kernel, check its answers here.

Usage::

    python -m course_utils.grade ASSIGNMENT SUBMISSION... --out DIR [--profile smoke]
        [--cell-timeout S] [--timeout S] [--memory-gb G] [--hidden-checks FILE] [--jobs N]
        [--run-as USER | --same-user]

``ASSIGNMENT`` is an assignment name (``ex02``), ``module:attribute`` naming a
:class:`~course_utils.exercises.core.QuestionSet`, a path to a ``.py`` file defining
``QUESTIONS`` (``file.py:NAME`` for another name), or a path to an exercise notebook whose
notebook metadata says ``{"course": {"assignment": "ex02"}}``. ``SUBMISSION`` is a file or a
folder (every file directly in it). The student id is the file's stem, made safe for file names
(``-2``, ``-3``... when two stems clash).

What it does, in order:

1. Loads the checks (the question set and, with ``--hidden-checks FILE``, the instructor-only
   questions that FILE lists as ``HIDDEN = [Question(...), ...]``), hashes the files of the
   ``course_utils`` package the kernels import (and the ``.pth`` files of site-packages), and
   finds out whether it can run submissions as an unprivileged user (``nobody``, when the
   grader runs as root and ``nobody`` can run this Python), all before any submission runs.
2. For each submission: copies the notebook alone into a fresh temporary folder, the kernel's
   working folder, appends one cell that writes the answer variables to a JSON file whose name
   holds a fresh random token, and runs it in a child process (a new session, the runner
   :mod:`course_utils.grade_runner`) with the smoke profile (``COURSE_PROFILE=smoke``,
   ``COURSE_CACHE_DIR`` in the temporary folder, ``HF_HUB_OFFLINE=1``, ``MPLBACKEND=Agg``), a
   per-cell time limit (the cell is interrupted and the next cells still run), a total time
   limit (the whole process tree, kernel included, is killed), a memory limit (``RLIMIT_DATA``
   per process) and a cap on the captured output. A cell that raises does not stop the run:
   answers set before and after it still count, and the submission is "partly graded" with the
   error named.
3. Reads the answers file (JSON only, size-limited, must be an object) and copies the files the
   questions read (regular files only, no links), then checks them *here*, in the grader's own
   process, with the checks loaded in step 1. Nothing a notebook does to its own kernel (a new
   ``check``, a patched ``course_utils``, a printed "All correct!") reaches the grade; only its
   answer values and working files do.
4. Re-hashes ``course_utils`` after each submission; if a file changed, grading stops with an
   error naming the files, and the submission that just ran is marked ungradable.
5. Writes ``DIR/state/<student>.json`` (the resume marker: skipped next time while the
   submission's sha256 and the checks are unchanged), ``DIR/feedback/<student>.md``,
   ``DIR/executed/<student>.ipynb`` (the run's outputs, for reviewing), ``DIR/gradebook.csv``
   (one row per student and question) and ``DIR/summary.csv`` (one row per student), each
   written to a temporary file in the same folder and moved into place.

Each submission ends "graded", "partly graded" (some cell failed, ran past its time limit or
flooded its output; the answers that were set are graded) or "ungradable" (not a notebook,
corrupt, timed out in total, kernel died, no answers exported), with the reason; the others go
on. See ``docs/grading.md`` for what this defends against and what it does not.

From Python: ``grade_submissions(assignment, submissions, out, ...)`` returns one
:class:`StudentResult` per submission.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import io
import json
import os
import re
import secrets
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import course_utils
from course_utils.exercises import load as load_question_set
from course_utils.exercises.core import MAX_EXPORT_BYTES, Outcome, Question, QuestionSet

# Defaults (see docs/grading.md for the reasons).
DEFAULT_PROFILE = "smoke"
DEFAULT_CELL_TIMEOUT = 300.0  # seconds a cell may run before it is interrupted
DEFAULT_TOTAL_TIMEOUT = 900.0  # seconds a whole submission may run before its processes are killed
DEFAULT_MEMORY_GB = 6.0  # RLIMIT_DATA of each process of a run (the kernel's heap and anonymous maps)
DEFAULT_OUTPUT_LIMIT = 2_000_000  # bytes of cell output kept; the rest is dropped
MAX_NOTEBOOK_BYTES = 20_000_000  # a submission bigger than this is not run
MAX_WORKING_FILE_BYTES = 50_000_000  # a file a question reads, copied out of the working folder
MAX_FILE_BYTES = 2**30  # RLIMIT_FSIZE: the biggest file a submission may write
MAX_PROCESSES = 512  # RLIMIT_NPROC, only when running as a separate user (it counts per user)
SANDBOX_USER = "nobody"
STATE_VERSION = 1

GRADEBOOK_COLUMNS = ("student", "question", "points", "max_points", "status", "feedback", "needs_review",
                     "submission_status", "submission_reason", "ran_as")
SUMMARY_COLUMNS = ("student", "submission", "status", "points", "max_points", "needs_review", "reason",
                   "ran_as", "seconds", "sha256")
STATUSES = ("graded", "partly graded", "ungradable")

# Passed on to the kernel; everything else in the grader's environment (tokens, keys) is not.
_ENV_ALLOWED = {"PATH", "LANG", "LANGUAGE", "TZ", "PYTHONPATH", "HF_HOME", "HF_HUB_CACHE", "TRANSFORMERS_CACHE",
                "HF_DATASETS_CACHE", "TORCH_HOME"}


class GraderError(Exception):
    """The grader cannot go on (bad assignment, checks that do not load, an altered package)."""


class PackageAltered(GraderError):
    """A submission changed the installed course_utils (or site-packages' .pth files)."""

    def __init__(self, student: str, changed: Sequence[str]):
        self.student = student
        self.changed = list(changed)
        super().__init__(f"grading stopped: course_utils was altered while {student!r} ran; changed files: "
                         f"{', '.join(self.changed)}. Restore the package (reinstall it or check it out "
                         "again), then run the grader again: it resumes where it stopped.")


@dataclass
class StudentResult:
    student: str
    status: str  # "graded" | "partly graded" | "ungradable"
    reason: str
    outcomes: list[Outcome]
    points: float
    max_points: float
    submission: str = ""
    sha256: str = ""
    ran_as: str = ""
    seconds: float = 0.0
    resumed: bool = False  # True: taken from DIR/state, not run again
    answers: dict | None = None
    fingerprint: str = ""

    @property
    def needs_review(self) -> bool:
        return self.status != "graded" or any(o.needs_review for o in self.outcomes)

    def to_state(self) -> dict:
        return {"version": STATE_VERSION, "student": self.student, "submission": self.submission,
                "sha256": self.sha256, "fingerprint": self.fingerprint, "status": self.status,
                "reason": self.reason, "points": self.points, "max_points": self.max_points,
                "outcomes": [o.to_dict() for o in self.outcomes], "answers": self.answers,
                "ran_as": self.ran_as, "seconds": round(self.seconds, 2),
                "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    @classmethod
    def from_state(cls, state: dict) -> "StudentResult":
        return cls(student=state["student"], status=state["status"], reason=state["reason"],
                   outcomes=[Outcome(**o) for o in state["outcomes"]], points=state["points"],
                   max_points=state["max_points"], submission=state.get("submission", ""),
                   sha256=state["sha256"], ran_as=state.get("ran_as", ""), seconds=state.get("seconds", 0.0),
                   resumed=True, answers=state.get("answers"), fingerprint=state.get("fingerprint", ""))


# ----------------------------------------------------------------------------------- loading


def _module_from_file(path: Path, prefix: str):
    path = Path(path).resolve()
    if not path.is_file():
        raise GraderError(f"{path} does not exist.")
    name = f"_{prefix}_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        sys.modules.pop(name, None)
        raise GraderError(f"could not load {path}: {type(error).__name__}: {error}") from error
    return module


def load_assignment(assignment, hidden_checks: str | Path | None = None) -> QuestionSet:
    """The QuestionSet to grade with, plus the questions of a hidden-checks file.

    ``assignment``: a QuestionSet, a name (``"ex02"``), ``"module:attribute"``, ``"file.py"``
    (its ``QUESTIONS``) or ``"file.py:NAME"``, or an exercise notebook (``.ipynb``) whose metadata
    holds ``{"course": {"assignment": ...}}``.
    """
    if isinstance(assignment, QuestionSet):
        qs = assignment
    else:
        spec = str(assignment)
        file_part, _, attribute = spec.partition(".py:")
        if spec.endswith(".ipynb"):
            try:
                meta = json.loads(Path(spec).read_text(encoding="utf-8")).get("metadata", {})
                name = meta["course"]["assignment"]
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
                raise GraderError(f"{spec}: not an exercise notebook with metadata "
                                  '{"course": {"assignment": ...}} '
                                  f"({type(error).__name__}: {error}).") from error
            if str(name).endswith(".py") or ".py:" in str(name):
                name = str(Path(spec).parent / name)
            qs = load_assignment(name)
        elif attribute or spec.endswith(".py"):
            path = Path(file_part + ".py") if attribute else Path(spec)
            qs = getattr(_module_from_file(path, "course_grade_assignment"), attribute or "QUESTIONS", None)
        else:
            try:
                qs = load_question_set(spec)
            except (ImportError, AttributeError, ValueError) as error:
                raise GraderError(f"could not load the assignment {spec!r}: {type(error).__name__}: {error}") from error
        if not isinstance(qs, QuestionSet):
            raise GraderError(f"{assignment!r} does not name a QuestionSet (got {type(qs).__name__}).")
    if hidden_checks:
        hidden = getattr(_module_from_file(Path(hidden_checks), "course_grade_hidden"), "HIDDEN", None)
        if not isinstance(hidden, (list, tuple)) or not all(isinstance(q, Question) for q in hidden):
            raise GraderError(f"{hidden_checks}: define HIDDEN = [Question(...), ...].")
        clash = sorted({q.name for q in hidden} & set(qs.by_name))
        if clash:
            raise GraderError(f"{hidden_checks}: hidden question names {clash} are already used by {qs.name}.")
        qs = QuestionSet(qs.name, qs.title, list(qs.questions) + list(hidden), notes=qs.notes)
    return qs


def _safe_id(stem: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._-")[:80]
    return safe or "submission"


def collect_submissions(paths: Iterable[str | Path]) -> list[tuple[str, Path]]:
    """``(student id, path)`` for each file given, or each file directly in a folder given."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
        elif p.is_file():
            files.append(p)
        else:
            raise GraderError(f"{p}: no such file or folder.")
    taken: set[str] = set()
    result = []
    for f in files:
        base = _safe_id(f.stem)
        student, n = base, 1
        while student.lower() in taken:
            n += 1
            student = f"{base}-{n}"
        taken.add(student.lower())
        result.append((student, f))
    return result


# ------------------------------------------------------------------------- package integrity


def _watched_files(package_dir: Path) -> dict[str, Path]:
    files = {}
    for path in sorted(package_dir.rglob("*")):
        if path.is_dir():
            continue  # __pycache__ included: a planted .pyc would run in later kernels
        files[f"{package_dir.name}/{path.relative_to(package_dir)}"] = path
    for sp in {Path(p) for p in site.getsitepackages()}:
        if sp.is_dir():
            for path in sorted(sp.glob("*.pth")) + sorted(sp.glob("*customize.py")):
                files[str(path)] = path
    return files


def package_snapshot(package_dir: Path) -> dict[str, str]:
    """sha256 of every file of the package (``__pycache__`` too) and of site-packages' .pth files."""
    snapshot = {}
    for name, path in _watched_files(package_dir).items():
        try:
            if path.is_symlink():
                snapshot[name] = "link:" + os.readlink(path)
            else:
                snapshot[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as error:
            snapshot[name] = f"unreadable: {error}"
    return snapshot


def snapshot_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))


# --------------------------------------------------------------------------- process control


def _process_table() -> dict[int, int]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read().decode(errors="replace")
                table[int(entry)] = int(stat[stat.rfind(")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    return table


def _marked_processes(marker: str) -> set[int]:
    needle = f"COURSE_GRADE_RUN={marker}".encode()
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if needle in f.read().split(b"\0"):
                        found.add(int(entry))
            except OSError:
                pass
    return found


def _run_processes(root: int | None, marker: str) -> set[int]:
    pids = _marked_processes(marker)
    if root is not None:
        table = _process_table()
        todo = [root]
        while todo:
            parent = todo.pop()
            for pid, ppid in table.items():
                if ppid == parent and pid not in pids:
                    pids.add(pid)
                    todo.append(pid)
    return pids


def kill_run(proc: subprocess.Popen | None, marker: str) -> None:
    """End a run: the runner, the kernel (its own session), anything they started (even if re-parented).

    Processes are found by ancestry (the runner is a child subreaper) and by the run's marker in
    their environment; they are stopped first, so none can fork away while we look, then killed.
    """
    root = proc.pid if proc is not None else None
    stopped: set[int] = set()
    if proc is not None and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGSTOP)
        except OSError:
            pass
    for _ in range(10):
        pids = _run_processes(root, marker) - stopped
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGSTOP)
            except OSError:
                pass
        stopped |= pids
    if proc is not None and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    for pid in stopped:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if proc is not None:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


# ------------------------------------------------------------------------------- the sandbox


@dataclass
class _Sandbox:
    uid: int | None  # None: same user as the grader
    gid: int | None
    description: str  # what the gradebook says under ran_as: "nobody", "same user (root)"
    note: str = ""  # why not a separate user, when not


def _current_user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return str(os.getuid())


def _probe(env: dict, cwd: Path, uid=None, gid=None) -> subprocess.CompletedProcess:
    code = ("import sys, course_utils, nbclient, ipykernel, nbformat; "
            "from course_utils.exercises.core import export_answers; print(course_utils.__file__)")
    kwargs = {"user": uid, "group": gid, "extra_groups": []} if uid is not None else {}
    try:
        return subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True,
                              timeout=120, **kwargs)
    except (OSError, subprocess.SubprocessError) as error:  # e.g. the interpreter is not executable for them
        return subprocess.CompletedProcess([sys.executable], 126, "", f"{type(error).__name__}: {error}")


def choose_sandbox(run_as: str | None, env: dict, package_dir: Path) -> _Sandbox:
    """Who runs the submissions: ``run_as`` (``"auto"``: ``nobody`` when root and usable)."""
    same = _Sandbox(None, None, f"same user ({_current_user()})")
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
                result = _probe(probe_env, tmp, entry.pw_uid, entry.pw_gid)
                if result.returncode == 0:
                    sandbox = _Sandbox(entry.pw_uid, entry.pw_gid, user)
                else:
                    last = (result.stderr.strip().splitlines() or ["?"])[-1]
                    why_not = f"{user!r} cannot run {sys.executable} with the course packages ({last})"
            if sandbox is same and run_as != "auto":
                raise GraderError(f"cannot run submissions as {run_as!r}: {why_not}.")
        elif run_as and run_as != "auto":
            raise GraderError(f"running as another user is supported on Linux only, not {sys.platform}.")
        result = _probe(probe_env, tmp, sandbox.uid, sandbox.gid)
        if result.returncode != 0:
            raise GraderError(f"the kernels' Python cannot import the course packages:\n{result.stderr[-2000:]}")
        imported = Path(result.stdout.strip().splitlines()[-1]).resolve().parent
        if imported != package_dir.resolve():
            raise GraderError(f"the kernels would import course_utils from {imported}, not from {package_dir}; "
                              "check PYTHONPATH.")
    if sandbox is same:
        sandbox.note = (f"submissions run as the grader's own user, not as a separate one: {why_not}" if why_not
                        else "submissions run as the grader's own user (asked for)")
    return sandbox


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def _force_remove(path: Path) -> None:
    def retry(function, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o700)
            function(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=retry)


# ------------------------------------------------------------------------------ atomic files


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write to a temporary file in the same folder, then move it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ---------------------------------------------------------------------------------- grading


def _export_cell(variables: Sequence[str], answers_path: Path) -> dict:
    import nbformat

    source = ("# Appended by the grader: export the answers.\n"
              "from course_utils.exercises.core import export_answers as _course_grader_export\n"
              f"_course_grader_export(globals(), {list(variables)!r}, {str(answers_path)!r})\n")
    return nbformat.v4.new_code_cell(source)


def _read_answers(path: Path) -> tuple[dict | None, str]:
    """The exported answers, or ``None`` and why not. Only a regular file, JSON, an object."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None, "no answers were exported"
    except OSError as error:
        return None, f"the answers file could not be opened ({error.strerror})"
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not (info.st_mode & 0o170000 == 0o100000):
            return None, "the answers file is not a regular file"
        if info.st_size > MAX_EXPORT_BYTES:
            return None, f"the exported answers are larger than {MAX_EXPORT_BYTES:,} bytes"
        data = f.read(MAX_EXPORT_BYTES + 1)
    if len(data) > MAX_EXPORT_BYTES:
        return None, f"the exported answers are larger than {MAX_EXPORT_BYTES:,} bytes"

    def no_constants(name):
        raise ValueError(f"{name} is not allowed in answers")

    try:
        values = json.loads(data.decode("utf-8"), parse_constant=no_constants)
    except (ValueError, RecursionError) as error:
        return None, f"the exported answers are not valid JSON ({type(error).__name__})"
    if not isinstance(values, dict):
        return None, "the exported answers are not a JSON object"
    return values, ""


def _copy_working_files(qs: QuestionSet, workdir: Path, dest: Path) -> dict[str, str]:
    """Copy the files questions read into ``dest``; return ``{file: why it was refused}``."""
    problems: dict[str, str] = {}
    root = workdir.resolve()
    for name in dict.fromkeys(f for q in qs.questions for f in q.files):
        source = workdir / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            problems[name] = f"{name!r} is not a path inside the working folder"
            continue
        if not os.path.lexists(source):
            continue  # Question.evaluate says it was not found
        if os.path.realpath(source) != os.path.normpath(root / name):
            problems[name] = f"the file {name!r} is a link, not a file the notebook wrote: write a regular file"
            continue
        try:
            fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as error:
            problems[name] = f"the file {name!r} could not be read ({error.strerror})"
            continue
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if info.st_mode & 0o170000 != 0o100000:
                problems[name] = f"{name!r} is not a regular file"
                continue
            if info.st_size > MAX_WORKING_FILE_BYTES:
                problems[name] = f"the file {name!r} is larger than {MAX_WORKING_FILE_BYTES:,} bytes"
                continue
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.read(MAX_WORKING_FILE_BYTES))
    return problems


def check_answers(qs: QuestionSet, values: dict, workdir: Path, file_problems: dict | None = None) -> list[Outcome]:
    """Run every question's checker here, on exported values and copied files."""
    errors = values.get("_errors") if isinstance(values.get("_errors"), dict) else {}
    file_problems = file_problems or {}
    outcomes = []
    for q in qs.questions:
        export_error = next((str(errors[v]) for v in q.variables if v in errors), None)
        file_problem = next((file_problems[f] for f in q.files if f in file_problems), None)
        if export_error or file_problem:
            outcomes.append(Outcome(q.name, "incorrect", 0, q.points, export_error or file_problem,
                                    needs_review=not q.auto))
            continue
        try:
            outcomes.append(q.evaluate({v: values.get(v) for v in q.variables}, workdir))
        except Exception as error:  # a checker bug: the instructor's, not the student's
            outcomes.append(Outcome(q.name, "error", 0, q.points,
                                    f"the check itself failed ({type(error).__name__}: {error}); "
                                    "the instructor will look at it.", needs_review=True))
    return outcomes


def _ungradable(qs: QuestionSet, student: str, reason: str, **kwargs) -> StudentResult:
    outcomes = [Outcome(q.name, "error", 0, q.points, "not graded: the submission is ungradable (see its reason)",
                        needs_review=True)
                for q in qs.questions]
    return StudentResult(student, "ungradable", reason, outcomes, 0, qs.max_points, **kwargs)


def _cell_label(nb, index) -> str:
    if index is None:
        return "a cell"
    code = [i for i, c in enumerate(nb["cells"]) if c.get("cell_type") == "code"]
    return f"cell {index + 1}" + (f" (code cell {code.index(index) + 1})" if index in code else "")


@dataclass
class _Context:
    qs: QuestionSet
    out: Path
    profile: str
    cell_timeout: float | None
    total_timeout: float | None
    memory_gb: float | None
    output_limit: int
    jobs: int
    sandbox: _Sandbox
    base_env: dict
    fingerprint: str
    package_dir: Path
    baseline: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    live: dict = field(default_factory=dict)
    altered: PackageAltered | None = None


def _kernel_env(ctx: _Context, runtime: Path, marker: str) -> dict:
    from course_utils.profiles import choose_thread_count

    # The grader's share of the CPUs (all of them, or its share under pytest-xdist), split
    # between the kernels that run at once: oversubscribed torch threads slow training badly.
    threads = str(max(1, choose_thread_count() // max(1, ctx.jobs)))
    env = dict(ctx.base_env)
    env.update({
        "COURSE_PROFILE": ctx.profile, "COURSE_CACHE_DIR": str(runtime / "cache"),
        "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
        "MPLBACKEND": "Agg", "HOME": str(runtime / "home"), "TMPDIR": str(runtime / "tmp"),
        "IPYTHONDIR": str(runtime / "ipython"), "JUPYTER_RUNTIME_DIR": str(runtime / "jupyter"),
        "JUPYTER_CONFIG_DIR": str(runtime / "jupyter-config"), "MPLCONFIGDIR": str(runtime / "mpl"),
        "XDG_CACHE_HOME": str(runtime / "cache-xdg"), "XDG_CONFIG_HOME": str(runtime / "config-xdg"),
        "PYTHONDONTWRITEBYTECODE": "1",  # kernels read the installed bytecode, never write it
        "PYTHONNOUSERSITE": "1", "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "COURSE_THREADS": threads,
        "TOKENIZERS_PARALLELISM": "false", "COURSE_GRADE_RUN": marker,
    })
    for key in ("HOME", "TMPDIR", "IPYTHONDIR", "JUPYTER_RUNTIME_DIR", "MPLCONFIGDIR"):
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    return env


def _run_notebook(ctx: _Context, student: str, path: Path, data: bytes, nb, sha: str) -> StudentResult:
    qs = ctx.qs
    common = {"submission": str(path), "sha256": sha, "ran_as": ctx.sandbox.description}
    token = secrets.token_hex(16)  # names the answers file; the kernel never sees it before the export cell
    marker = secrets.token_hex(16)  # in the kernel's environment: finds the run's processes
    tmp = Path(tempfile.mkdtemp(prefix=f"course-grade-{student[:30]}-"))
    try:
        workdir = tmp / f"work-{secrets.token_hex(6)}"
        runtime = tmp / f"runtime-{secrets.token_hex(6)}"
        evidence = tmp / "evidence"  # the grader's copy of the working files; never the kernel's
        for d in (workdir, runtime, evidence):
            d.mkdir(mode=0o700)
        (workdir / path.name).write_bytes(data)
        answers_path = workdir / f"_answers_{token}.json"
        env = _kernel_env(ctx, runtime, marker)
        nb.cells.append(_export_cell(qs.variables, answers_path))
        config = {"notebook": nb, "workdir": str(workdir), "cell_timeout": ctx.cell_timeout,
                  "output_limit": ctx.output_limit, "memory_gb": ctx.memory_gb, "max_file_bytes": MAX_FILE_BYTES,
                  "max_processes": MAX_PROCESSES if ctx.sandbox.uid is not None else None,
                  "skip_tag": f"grader-skip-{secrets.token_hex(8)}", "kernel_name": "python3"}
        kwargs = {}
        if ctx.sandbox.uid is not None:
            os.chmod(tmp, 0o711)  # the sandbox user may enter, not list
            _chown_tree(workdir, ctx.sandbox.uid, ctx.sandbox.gid)
            _chown_tree(runtime, ctx.sandbox.uid, ctx.sandbox.gid)
            kwargs = {"user": ctx.sandbox.uid, "group": ctx.sandbox.gid, "extra_groups": []}
        runner = Path(__file__).with_name("grade_runner.py")
        started = time.monotonic()
        with open(tmp / "runner.out", "w+b") as out_file, open(tmp / "runner.err", "w+b") as err_file:
            proc = subprocess.Popen([sys.executable, "-I", str(runner)], cwd=workdir, env=env,
                                    stdin=subprocess.PIPE, stdout=out_file, stderr=err_file,
                                    start_new_session=True, **kwargs)
            with ctx.lock:
                ctx.live[proc.pid] = (proc, marker)
            timed_out = False
            try:
                try:
                    proc.stdin.write(json.dumps(config).encode())
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
                proc.wait(timeout=ctx.total_timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                kill_run(proc, marker)  # nothing of the run is left to race with what we read next
                with ctx.lock:
                    ctx.live.pop(proc.pid, None)
            elapsed = time.monotonic() - started
            out_file.seek(0)
            raw = out_file.read(MAX_NOTEBOOK_BYTES + 2 * ctx.output_limit + 1_000_000)
            err_file.seek(0, 2)
            err_file.seek(max(0, err_file.tell() - 2000))
            runner_err = err_file.read().decode(errors="replace")
        common["seconds"] = elapsed
        try:
            run = json.loads(raw.decode("utf-8")) if raw else {}
            report = run.get("report", {}) if isinstance(run, dict) else {}
        except (ValueError, UnicodeDecodeError):
            run, report = {}, {}
        if isinstance(run, dict) and isinstance(run.get("notebook"), dict):
            try:
                write_atomic(ctx.out / "executed" / f"{student}.ipynb", json.dumps(run["notebook"]))
            except (TypeError, ValueError, OSError):
                pass
        export_index = len(nb.cells) - 1
        if timed_out:
            return _ungradable(qs, student, f"it ran past the total time limit of {ctx.total_timeout:g} s and "
                               "was stopped (an endless loop, or too much work for the smoke profile?)", **common)
        if report.get("dead_kernel") is not None:
            where = report["dead_kernel"]
            what = "the grader's export cell" if where == export_index else _cell_label(nb, where)
            return _ungradable(qs, student, f"the kernel died while running {what} (the notebook exited "
                               "the process, killed it, or ran out of memory); no answers could be read", **common)
        values, why = _read_answers(answers_path)
        if values is None:
            detail = report.get("runner_error") or ""
            export_errors = [e for e in report.get("errors", []) if e.get("cell") == export_index]
            if export_errors:
                detail = f"the export cell raised {export_errors[0]['ename']}: {export_errors[0]['evalue']}"
            if export_index in report.get("timeouts", []):
                detail = "the export cell ran past the cell time limit"
            if not report and proc.returncode:
                detail = f"the runner exited with status {proc.returncode}: {runner_err.strip()[-500:]}"
            return _ungradable(qs, student, why + (f" ({detail})" if detail else ""), **common)
        problems = _copy_working_files(qs, workdir, evidence)
        answers = {v: values.get(v) for v in qs.variables}
        if isinstance(values.get("_errors"), dict):
            answers["_errors"] = values["_errors"]
        outcomes = check_answers(qs, answers, evidence, problems)
        notes = []
        for index in report.get("timeouts", []):
            notes.append(f"{_cell_label(nb, index)} ran past the {ctx.cell_timeout:g} s cell time limit and was "
                         "interrupted")
        timed = set(report.get("timeouts", []))
        for error in report.get("errors", []):
            if error.get("cell") in timed or error.get("cell") == export_index:
                continue
            value = str(error.get("evalue") or "")[:300]
            notes.append(f"{_cell_label(nb, error.get('cell'))} raised {error.get('ename')}"
                         + (f": {value}" if value else ""))
        if report.get("flooded_cells"):
            cells = ", ".join(_cell_label(nb, i) for i in report["flooded_cells"])
            notes.append(f"the output passed {ctx.output_limit:,} bytes ({cells}); the rest was discarded")
        if not report:
            notes.append("the runner's report could not be read")
        if notes:
            reason = "; ".join(notes) + ". The answers that were set were graded."
            return StudentResult(student, "partly graded", reason, outcomes, sum(o.points for o in outcomes),
                                 qs.max_points, answers=answers, **common)
        return StudentResult(student, "graded", "", outcomes, sum(o.points for o in outcomes), qs.max_points,
                             answers=answers, **common)
    finally:
        _force_remove(tmp)


def _grade_one(ctx: _Context, student: str, path: Path) -> StudentResult:
    qs = ctx.qs
    try:
        size = path.stat().st_size
        data = path.read_bytes() if size <= MAX_NOTEBOOK_BYTES else b""
    except OSError as error:
        return _ungradable(qs, student, f"the file could not be read ({error.strerror})", submission=str(path))
    sha = hashlib.sha256(data).hexdigest() if data else f"size:{size}"
    common = {"submission": str(path), "sha256": sha, "ran_as": ctx.sandbox.description}
    if path.suffix.lower() != ".ipynb":
        return _ungradable(qs, student, f"not a notebook: {path.name!r} is not an .ipynb file; submit the "
                           "exercise notebook itself", **common)
    if size > MAX_NOTEBOOK_BYTES:
        return _ungradable(qs, student, f"the notebook is larger than {MAX_NOTEBOOK_BYTES:,} bytes "
                           "(clear its outputs and submit again)", **common)
    try:
        import nbformat

        raw = json.loads(data.decode("utf-8"))
        if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
            raise ValueError("it has no list of cells")
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as error:
        return _ungradable(qs, student, f"not a valid notebook ({type(error).__name__}: {str(error)[:200]}); "
                           "the file may be damaged: open it in Jupyter, save and submit again", **common)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell.outputs, cell.execution_count = [], None
    return _run_notebook(ctx, student, path, data, nb, sha)


# ---------------------------------------------------------------------------------- outputs


def _fmt(x: float) -> str:
    return f"{x:g}"


def feedback_markdown(result: StudentResult, qs: QuestionSet) -> str:
    lines = [f"# Feedback for {result.student}: {qs.title} ({qs.name})", ""]
    lines.append(f"**Total: {_fmt(result.points)} / {_fmt(result.max_points)} points** ({result.status})")
    lines.append("")
    if result.status == "ungradable":
        lines += [f"**Your submission could not be graded:** {result.reason}.", "",
                  "Fix this and submit again, or ask the instructor.", ""]
    elif result.status == "partly graded":
        lines += [f"**Partly graded:** {result.reason}", ""]
    if any(o.status == "review" for o in result.outcomes):
        lines += ["Questions marked ✎ are reviewed by the instructor; their points are added later.", ""]
    marks = {"correct": "✓", "incorrect": "✗", "unanswered": "…", "review": "✎", "error": "!"}
    for o in result.outcomes:
        lines.append(f"## {o.question} {marks[o.status]} {o.status} ({_fmt(o.points)}/{_fmt(o.max_points)})")
        if o.feedback:
            lines += ["", o.feedback]
        lines.append("")
    return "\n".join(lines)


def _csv_text(columns: Sequence[str], rows: Iterable[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()


def write_gradebook(out: Path, results: Sequence[StudentResult]) -> None:
    rows, summary = [], []
    for r in sorted(results, key=lambda r: r.student):
        for o in r.outcomes:
            rows.append({"student": r.student, "question": o.question, "points": _fmt(o.points),
                         "max_points": _fmt(o.max_points), "status": o.status, "feedback": o.feedback,
                         "needs_review": str(o.needs_review).lower(), "submission_status": r.status,
                         "submission_reason": r.reason, "ran_as": r.ran_as})
        summary.append({"student": r.student, "submission": r.submission, "status": r.status,
                        "points": _fmt(r.points), "max_points": _fmt(r.max_points),
                        "needs_review": str(r.needs_review).lower(), "reason": r.reason, "ran_as": r.ran_as,
                        "seconds": f"{r.seconds:.1f}", "sha256": r.sha256})
    write_atomic(out / "gradebook.csv", _csv_text(GRADEBOOK_COLUMNS, rows))
    write_atomic(out / "summary.csv", _csv_text(SUMMARY_COLUMNS, summary))


def _fingerprint(qs: QuestionSet, profile: str, hidden_checks) -> str:
    h = hashlib.sha256(f"v{STATE_VERSION}|{qs.name}|{profile}".encode())
    for q in qs.questions:
        h.update(repr((q.name, q.points, q.variables, q.files, q.auto)).encode())
    if hidden_checks:
        h.update(Path(hidden_checks).read_bytes())
    return h.hexdigest()


def _load_state(path: Path) -> dict | None:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        return state if isinstance(state, dict) and state.get("version") == STATE_VERSION else None
    except (OSError, ValueError):
        return None


def _log(out: Path, message: str, echo: bool) -> None:
    stamp = datetime.now().strftime("%H:%M:%S")
    with open(out / "grader.log", "a", encoding="utf-8") as f:
        f.write(f"{stamp} {message}\n")
    if echo:
        print(message, file=sys.stderr, flush=True)


def grade_submissions(assignment, submissions: Iterable[str | Path], out: str | Path, *,
                      profile: str = DEFAULT_PROFILE, cell_timeout: float | None = DEFAULT_CELL_TIMEOUT,
                      total_timeout: float | None = DEFAULT_TOTAL_TIMEOUT,
                      memory_gb: float | None = DEFAULT_MEMORY_GB, hidden_checks: str | Path | None = None,
                      jobs: int = 1, output_limit: int = DEFAULT_OUTPUT_LIMIT, run_as: str | None = "auto",
                      package_dir: str | Path | None = None, verbose: bool = False) -> list[StudentResult]:
    """Grade ``submissions`` (files, or folders of them) against ``assignment``; write ``out``.

    Returns one :class:`StudentResult` per submission, in order. ``run_as``: ``"auto"`` (the
    user ``nobody`` when the grader is root and ``nobody`` can run this Python, else the same
    user), a user name (required: an error if it cannot be used), or ``None`` (same user).
    ``package_dir``: the ``course_utils`` folder the kernels import (put first on their
    PYTHONPATH) and that is hashed before and after each submission; default: the installed
    one. Raises :class:`PackageAltered` (after writing what was graded) if a submission changed
    the package, :class:`GraderError` if the checks cannot be loaded.
    """
    # 1. Everything trusted is loaded before any submission runs.
    qs = load_assignment(assignment, hidden_checks)
    subs = collect_submissions(submissions)
    out = Path(out)
    default_package = Path(course_utils.__file__).resolve().parent
    package_dir = Path(package_dir).resolve() if package_dir else default_package
    if not (package_dir / "__init__.py").is_file():
        raise GraderError(f"{package_dir} is not a course_utils package folder.")
    base_env = {k: v for k, v in os.environ.items() if k in _ENV_ALLOWED or k.startswith("LC_")}
    if package_dir != default_package:
        base_env["PYTHONPATH"] = os.pathsep.join([str(package_dir.parent)] + ([base_env["PYTHONPATH"]]
                                                                             if base_env.get("PYTHONPATH") else []))
    sandbox = choose_sandbox(run_as, base_env, package_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "grader.json"
    if meta_path.exists():
        try:
            previous = json.loads(meta_path.read_text(encoding="utf-8")).get("assignment")
        except (OSError, ValueError, AttributeError):
            previous = None
        if previous and previous != qs.name:
            raise GraderError(f"{out} holds grades for {previous!r}, not {qs.name!r}: choose another --out.")
    for sub in ("state", "feedback", "executed"):
        (out / sub).mkdir(exist_ok=True)
        os.chmod(out / sub, 0o700)  # other students' grades are nobody's business
    write_atomic(meta_path, json.dumps({"assignment": qs.name, "title": qs.title, "profile": profile,
                                        "questions": [q.name for q in qs.questions], "max_points": qs.max_points,
                                        "hidden_checks": str(hidden_checks) if hidden_checks else None,
                                        "ran_as": sandbox.description, "ran_as_note": sandbox.note,
                                        "limits": {"cell_timeout": cell_timeout, "total_timeout": total_timeout,
                                                   "memory_gb": memory_gb, "output_limit": output_limit}},
                                       indent=1))
    ctx = _Context(qs=qs, out=out, profile=profile, cell_timeout=cell_timeout, total_timeout=total_timeout,
                   memory_gb=memory_gb, output_limit=int(output_limit), jobs=max(1, int(jobs)), sandbox=sandbox,
                   base_env=base_env, fingerprint=_fingerprint(qs, profile, hidden_checks), package_dir=package_dir)
    # The grader writes no bytecode either while it grades, so the package's __pycache__ changes
    # only if a submission changes it.
    dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        return _grade_all(ctx, subs, verbose)
    finally:
        sys.dont_write_bytecode = dont_write


def _grade_all(ctx: _Context, subs: list[tuple[str, Path]], verbose: bool) -> list[StudentResult]:
    qs, out, package_dir, sandbox = ctx.qs, ctx.out, ctx.package_dir, ctx.sandbox
    ctx.baseline = package_snapshot(package_dir)
    _log(out, f"grading {len(subs)} submission(s) of {qs.name} as {sandbox.description}"
              + (f" ({sandbox.note})" if sandbox.note else ""), verbose)

    results: dict[str, StudentResult] = {}

    def save(result: StudentResult) -> None:
        with ctx.lock:
            results[result.student] = result
            write_atomic(out / "feedback" / f"{result.student}.md", feedback_markdown(result, qs))
            if not result.resumed:
                write_atomic(out / "state" / f"{result.student}.json", json.dumps(result.to_state(), indent=1))
            write_gradebook(out, _all_results())

    def _all_results() -> list[StudentResult]:
        everyone = dict(results)
        for state_file in (out / "state").glob("*.json"):
            if state_file.stem not in everyone:
                state = _load_state(state_file)
                if state and state.get("fingerprint") == ctx.fingerprint:
                    everyone[state_file.stem] = StudentResult.from_state(state)
        return list(everyone.values())

    def work(item: tuple[int, str, Path]) -> None:
        n, student, path = item
        if ctx.stop.is_set():
            return
        state = _load_state(out / "state" / f"{student}.json")
        try:
            sha = hashlib.sha256(path.read_bytes()).hexdigest() if path.stat().st_size <= MAX_NOTEBOOK_BYTES \
                else f"size:{path.stat().st_size}"
        except OSError:
            sha = None
        if state and sha and state.get("sha256") == sha and state.get("fingerprint") == ctx.fingerprint:
            result = StudentResult.from_state(state)
            save(result)
            _log(out, f"[{n}/{len(subs)}] {student}: unchanged, kept ({result.status}, "
                      f"{_fmt(result.points)}/{_fmt(result.max_points)})", verbose)
            return
        result = _grade_one(ctx, student, path)
        result.fingerprint = ctx.fingerprint
        with ctx.lock:
            changed = snapshot_changes(ctx.baseline, package_snapshot(package_dir))
            if changed and ctx.altered is None:
                ctx.altered = PackageAltered(student, changed)
                ctx.stop.set()
            elif changed:
                return  # ran while the package was altered: not recorded, graded again next time
        if changed:
            result = _ungradable(qs, student, "it altered the installed course_utils (" + ", ".join(changed[:5]) +
                                 "); grading stopped", submission=result.submission, sha256=result.sha256,
                                 ran_as=result.ran_as, seconds=result.seconds)
            result.fingerprint = ctx.fingerprint
        save(result)
        _log(out, f"[{n}/{len(subs)}] {student}: {result.status}, {_fmt(result.points)}/{_fmt(result.max_points)} "
                  f"({result.seconds:.1f} s){': ' + result.reason if result.reason else ''}", verbose)

    items = [(n, student, path) for n, (student, path) in enumerate(subs, 1)]
    pool = ThreadPoolExecutor(max_workers=ctx.jobs) if ctx.jobs > 1 else None
    try:
        if pool is None:
            for item in items:
                work(item)
        else:
            for future in [pool.submit(work, item) for item in items]:
                future.result()
    except BaseException:  # Ctrl-C, or a bug: leave no submission running
        ctx.stop.set()
        with ctx.lock:
            live = list(ctx.live.values())
        for proc, marker in live:
            kill_run(proc, marker)
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    write_gradebook(out, _all_results())
    if ctx.altered is not None:
        _log(out, str(ctx.altered), verbose)
        raise ctx.altered
    return [results[student] for student, _ in subs if student in results]


# ------------------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.grade",
        description="Grade submitted exercise notebooks: each runs in a fresh kernel with time and memory "
                    "limits; its exported answers are checked in the grader's own process. Writes "
                    "DIR/gradebook.csv, DIR/summary.csv, DIR/feedback/<student>.md and DIR/state/ (resume).",
        epilog="Example: python -m course_utils.grade ex02 submissions/ --out grades/ex02 --jobs 2. "
               "See docs/grading.md for the threat model.")
    parser.add_argument("assignment", help="ex02, module:attribute, file.py[:NAME], or an exercise notebook "
                                           "whose metadata has {\"course\": {\"assignment\": ...}}")
    parser.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                        help="a submitted file, or a folder (every file directly in it)")
    parser.add_argument("--out", required=True, metavar="DIR", help="where the gradebook, feedback and state go")
    parser.add_argument("--profile", default=DEFAULT_PROFILE, choices=("smoke", "cpu", "gpu"),
                        help="COURSE_PROFILE for the kernels (default: %(default)s)")
    parser.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT, metavar="S",
                        help="seconds a cell may run before it is interrupted (default: %(default)g)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TOTAL_TIMEOUT, metavar="S",
                        help="seconds a whole submission may run before it is killed (default: %(default)g)")
    parser.add_argument("--memory-gb", type=float, default=DEFAULT_MEMORY_GB, metavar="G",
                        help="memory limit per process, RLIMIT_DATA, in GiB; 0: none (default: %(default)g)")
    parser.add_argument("--output-limit", type=int, default=DEFAULT_OUTPUT_LIMIT, metavar="BYTES",
                        help="cell output kept per submission (default: %(default)d)")
    parser.add_argument("--hidden-checks", metavar="FILE", help="a .py file defining HIDDEN = [Question(...)]")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="submissions run at once (default: 1)")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--run-as", default="auto", metavar="USER",
                     help="run submissions as USER (default: nobody when root and possible, else the same user)")
    who.add_argument("--same-user", action="store_true", help="run submissions as the grader's own user")
    parser.add_argument("--package-dir", metavar="DIR",
                        help="the course_utils folder the kernels import and the grader guards (default: installed)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        results = grade_submissions(
            args.assignment, args.submissions, args.out, profile=args.profile,
            cell_timeout=args.cell_timeout or None, total_timeout=args.timeout or None,
            memory_gb=args.memory_gb or None, hidden_checks=args.hidden_checks, jobs=args.jobs,
            output_limit=args.output_limit, run_as=None if args.same_user else args.run_as,
            package_dir=args.package_dir, verbose=True)
    except GraderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    width = max([len(r.student) for r in results] + [7])
    print(f"{'student':<{width}}  {'status':<13}  points")
    for r in results:
        print(f"{r.student:<{width}}  {r.status:<13}  {_fmt(r.points)}/{_fmt(r.max_points)}"
              f"{'  (kept)' if r.resumed else ''}")
    print(f"gradebook: {Path(args.out) / 'gradebook.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
