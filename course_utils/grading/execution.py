"""Running one submission: a fresh folder, the runner in a new session, limits, then the read-back.

>>> print(export_cell(["total"], Path("/tmp/w/_answers_0.json")).source.splitlines()[-1])
_course_grader_export(globals(), ['total'], '/tmp/w/_answers_0.json')
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from course_utils.exercises.core import QuestionSet, version_mismatch
from course_utils.files import RefusedFile, read_regular, write_atomic
from course_utils.grading.errors import PackageAltered
from course_utils.grading.gradebook import PRIVATE, StudentResult, check_answers, ungradable
from course_utils.grading.limits import (MAX_FILE_BYTES, MAX_NOTEBOOK_BYTES, MAX_PROCESSES, READBACK_TIMEOUT,
                                         RUN_MARKER_VARIABLE)
from course_utils.grading.loading import NotANotebook, parse_notebook
from course_utils.grading.processes import kill_run
from course_utils.grading.readback import ReadBackTimeout, bounded, copy_working_files, read_answers
from course_utils.grading.saved import find_saved_run, replay_unanswered
from course_utils.grading.sandbox import Sandbox, chown_tree, force_remove, runner_command


@dataclass
class Context:
    """What every run of one grading call shares (set up before any submission runs)."""

    qs: QuestionSet
    out: Path
    profile: str
    cell_timeout: float | None
    total_timeout: float | None
    memory_gb: float | None
    output_limit: int
    jobs: int
    sandbox: Sandbox
    base_env: dict
    fingerprint: str
    package_dir: Path
    readback_timeout: float = READBACK_TIMEOUT
    baseline: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    live: dict = field(default_factory=dict)
    altered: PackageAltered | None = None


def export_cell(variables: Sequence[str], answers_path: Path):
    """The cell appended to every submission: writes each answer, converted on its own, as JSON."""
    import nbformat

    source = ("# Appended by the grader: export the answers (each on its own: one odd answer loses only itself).\n"
              "from course_utils.jsonable import write_answers as _course_grader_export\n"
              f"_course_grader_export(globals(), {list(variables)!r}, {str(answers_path)!r})\n")
    return nbformat.v4.new_code_cell(source)


def cell_label(nb, index: int | None) -> str:
    """``"cell 3 (code cell 2)"``: where a problem was, as the student sees the notebook."""
    if index is None:
        return "a cell"
    code = [i for i, c in enumerate(nb["cells"]) if c.get("cell_type") == "code"]
    return f"cell {index + 1}" + (f" (code cell {code.index(index) + 1})" if index in code else "")


def kernel_env(ctx: Context, runtime: Path, marker: str) -> dict:
    """The kernel's environment, built from scratch: the profile, private folders, the run's marker."""
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
        "TOKENIZERS_PARALLELISM": "false", RUN_MARKER_VARIABLE: marker,
    })
    for key in ("HOME", "TMPDIR", "IPYTHONDIR", "JUPYTER_RUNTIME_DIR", "MPLCONFIGDIR"):
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    return env


def _runner_died(returncode: int | None, runner_err: str) -> str:
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return (f"the grader's runner was killed by {name} while the notebook ran; did the notebook kill "
                "its parent process?")
    return f"the runner exited with status {returncode}: {runner_err.strip()[-500:]}"


def _start_and_wait(ctx: Context, tmp: Path, workdir: Path, env: dict, config: dict, marker: str):
    """Run the runner to its end or the total limit, kill the run's processes; ``(report, run, ...)``."""
    started = time.monotonic()
    with open(tmp / "runner.out", "w+b") as out_file, open(tmp / "runner.err", "w+b") as err_file:
        proc = subprocess.Popen(runner_command(), cwd=workdir, env=env, stdin=subprocess.PIPE, stdout=out_file,
                                stderr=err_file, start_new_session=True, **ctx.sandbox.popen_kwargs())
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
        # Read through the handles opened before the run: a file planted at these names is never opened.
        out_file.seek(0)
        raw = out_file.read(MAX_NOTEBOOK_BYTES + 2 * ctx.output_limit + 1_000_000)
        err_file.seek(0, 2)
        err_file.seek(max(0, err_file.tell() - 2000))
        runner_err = err_file.read().decode(errors="replace")
    try:
        run = json.loads(raw.decode("utf-8")) if raw else {}
        report = run.get("report", {}) if isinstance(run, dict) else {}
    except (ValueError, UnicodeDecodeError, RecursionError):
        run, report = {}, {}
    return run, report if isinstance(report, dict) else {}, timed_out, elapsed, proc.returncode, runner_err


def run_notebook(ctx: Context, student: str, path: Path, data: bytes, nb, sha: str, note: str = "",
                 saved: dict | None = None) -> StudentResult:
    """Run ``nb`` (the parsed submission) with the export cell appended, then grade what it exported.

    ``saved``: the run the submission saved in its own outputs (:mod:`course_utils.grading.saved`);
    the questions this run leaves unanswered are checked on it, for review.
    """
    qs = ctx.qs
    common = {"submission": str(path), "sha256": sha, "ran_as": ctx.sandbox.description}
    token = secrets.token_hex(16)  # names the answers file; the kernel never sees it before the export cell
    marker = secrets.token_hex(16)  # in the kernel's environment: finds the run's processes
    tmp = Path(tempfile.mkdtemp(prefix=f"course-grade-{student[:30]}-"))
    try:
        workdir = tmp / f"work-{secrets.token_hex(6)}"
        runtime = tmp / f"runtime-{secrets.token_hex(6)}"
        for d in (workdir, runtime):
            d.mkdir(mode=0o700)
        (workdir / path.name).write_bytes(data)
        answers_path = workdir / f"_answers_{token}.json"
        env = kernel_env(ctx, runtime, marker)
        nb.cells.append(export_cell(qs.variables, answers_path))
        config = {"notebook": nb, "workdir": str(workdir), "cell_timeout": ctx.cell_timeout,
                  "output_limit": ctx.output_limit, "memory_gb": ctx.memory_gb, "max_file_bytes": MAX_FILE_BYTES,
                  "max_processes": MAX_PROCESSES if ctx.sandbox.uid is not None else None,
                  "skip_tag": f"grader-skip-{secrets.token_hex(8)}", "kernel_name": "python3"}
        if ctx.sandbox.uid is not None:
            os.chmod(tmp, 0o711)  # the sandbox user may enter, not list
            chown_tree(workdir, ctx.sandbox.uid, ctx.sandbox.gid)
            chown_tree(runtime, ctx.sandbox.uid, ctx.sandbox.gid)
        run, report, timed_out, elapsed, returncode, runner_err = _start_and_wait(
            ctx, tmp, workdir, env, config, marker)
        common["seconds"] = elapsed
        if isinstance(run, dict) and isinstance(run.get("notebook"), dict):
            try:
                write_atomic(ctx.out / "executed" / f"{student}.ipynb", json.dumps(run["notebook"]), mode=PRIVATE)
            except (TypeError, ValueError, RecursionError, OSError):
                pass
        export_index = len(nb.cells) - 1
        if timed_out:
            return ungradable(qs, student, f"it ran past the total time limit of {ctx.total_timeout:g} s and "
                              "was stopped (an endless loop, or too much work for the smoke profile?)", **common)
        if report.get("dead_kernel") is not None:
            where = report["dead_kernel"]
            what = "the grader's export cell" if where == export_index else cell_label(nb, where)
            return ungradable(qs, student, f"the kernel died while running {what} (the notebook exited "
                              "the process, killed it, or ran out of memory); no answers could be read", **common)

        def read_back():
            # A fresh folder of the grader's, made after the run ended: the run never knew its name.
            evidence = Path(tempfile.mkdtemp(prefix="evidence-", dir=tmp))
            values, why = read_answers(answers_path)
            if values is None:
                return None, why, {}, evidence
            return values, why, copy_working_files((f for q in qs.questions for f in q.files), workdir,
                                                   evidence), evidence

        try:
            values, why, problems, evidence = bounded(read_back, ctx.readback_timeout)
        except ReadBackTimeout as error:
            return ungradable(qs, student, f"{error} (files the notebook left behind that cannot be read)", **common)
        if values is None:
            detail = report.get("runner_error") or ""
            export_errors = [e for e in report.get("errors", []) if e.get("cell") == export_index]
            if export_errors:
                detail = f"the export cell raised {export_errors[0]['ename']}: {export_errors[0]['evalue']}"
            if export_index in report.get("timeouts", []):
                detail = "the export cell ran past the cell time limit"
            if not report and returncode:
                detail = _runner_died(returncode, runner_err)
            return ungradable(qs, student, why + (f" ({detail})" if detail else ""), **common)
        answers = {v: values.get(v) for v in qs.variables}
        if isinstance(values.get("_errors"), dict):
            answers["_errors"] = {str(k): str(v) for k, v in values["_errors"].items() if k in qs.variables}
        outcomes = check_answers(qs, answers, evidence, problems)
        notes = _run_notes(ctx, nb, report, export_index)
        if saved is not None:  # a fresh folder of the grader's for the saved record, as for the evidence
            record_dir = Path(tempfile.mkdtemp(prefix="saved-", dir=tmp))
            outcomes, replayed = replay_unanswered(qs, outcomes, saved, record_dir)
            if replayed:
                notes.append(f"this run left {', '.join(replayed)} unanswered, so the answers the notebook's own "
                             "run saved were checked instead, and marked for review")
        unexported = [q.name for q in qs.questions if any(v in answers.get("_errors", {}) for v in q.variables)]
        if unexported:
            notes.append(f"the answer to {', '.join(unexported)} could not be exported (see "
                         f"{'that question' if len(unexported) == 1 else 'those questions'})")
        points = sum(o.points for o in outcomes)
        if notes:
            reason = "; ".join(([note] if note else []) + notes) + ". The answers that were set were graded."
            return StudentResult(student, "partly graded", reason, outcomes, points, qs.max_points,
                                 answers=answers, **common)
        return StudentResult(student, "graded", note, outcomes, points, qs.max_points, answers=answers, **common)
    finally:
        force_remove(tmp)


def _run_notes(ctx: Context, nb, report: dict, export_index: int) -> list[str]:
    """What went wrong in cells that did not stop the run: timeouts, errors, output floods."""
    notes = []
    for index in report.get("timeouts", []):
        notes.append(f"{cell_label(nb, index)} ran past the {ctx.cell_timeout:g} s cell time limit and was "
                     "interrupted")
    timed = set(report.get("timeouts", []))
    for error in report.get("errors", []):
        if error.get("cell") in timed or error.get("cell") == export_index:
            continue
        value = str(error.get("evalue") or "")[:300]
        notes.append(f"{cell_label(nb, error.get('cell'))} raised {error.get('ename')}"
                     + (f": {value}" if value else ""))
    if report.get("flooded_cells"):
        cells = ", ".join(cell_label(nb, i) for i in report["flooded_cells"])
        notes.append(f"the output passed {ctx.output_limit:,} bytes ({cells}); the rest was discarded")
    if not report:
        notes.append("the runner's report could not be read")
    return notes


def read_submission(path: Path) -> tuple[bytes | None, str, str]:
    """``(data, sha256, why not)``: the submitted file's bytes, read without waiting on a planted pipe."""
    try:
        data = read_regular(path, MAX_NOTEBOOK_BYTES)
    except RefusedFile as refused:
        if refused.problem.startswith("larger"):
            size = os.lstat(path).st_size
            return None, f"size:{size}", (f"the notebook is larger than {MAX_NOTEBOOK_BYTES:,} bytes "
                                          "(clear its outputs and submit again)")
        return None, "", f"the submitted file is {refused.problem}, not a regular file: submit the notebook itself"
    except OSError as error:
        return None, "", f"the file could not be read ({error.strerror or error})"
    return data, hashlib.sha256(data).hexdigest(), ""


def grade_one(ctx: Context, student: str, path: Path) -> StudentResult:
    """Grade one submitted file: checks that it is a notebook, runs it, grades it; never raises for it."""
    qs = ctx.qs
    data, sha, why_not = read_submission(path)
    common = {"submission": str(path), "sha256": sha, "ran_as": ctx.sandbox.description}
    if path.suffix.lower() != ".ipynb":
        return ungradable(qs, student, f"not a notebook: {path.name!r} is not an .ipynb file; submit the "
                          "exercise notebook itself", **common)
    if data is None:
        return ungradable(qs, student, why_not, **common)
    try:
        nb, note = parse_notebook(data)
    except NotANotebook as error:
        return ungradable(qs, student, str(error), **common)
    # A notebook made from another version of the question set may answer other questions.
    warning = version_mismatch(qs, nb.get("metadata", {}))
    if warning:
        note = f"{note}; {warning}" if note else warning
    # What the learner's own run saved travels in its outputs: read it before they are cleared.
    saved, saved_note = find_saved_run(nb, qs)
    if saved_note:
        note = f"{note}; {saved_note}" if note else saved_note
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell.outputs, cell.execution_count = [], None
    return run_notebook(ctx, student, path, data, nb, sha, note, saved)
