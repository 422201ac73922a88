"""Grading a batch of submissions: trusted set-up first, one run per submission, resume, stop on tampering.

``grade_submissions("ex02", ["submissions/"], "grades/ex02", jobs=2)`` returns one
:class:`~course_utils.grading.gradebook.StudentResult` per submission and writes ``grades/ex02``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import course_utils
from course_utils.exercises.core import QuestionSet
from course_utils.files import write_atomic
from course_utils.grading.errors import GraderError, PackageAltered
from course_utils.grading.execution import Context, grade_one, read_submission
from course_utils.grading.gradebook import (PRIVATE, StudentResult, feedback_markdown, fingerprint, fmt, load_state,
                                            log, read_json, ungradable, write_gradebook)
from course_utils.grading.integrity import package_snapshot, snapshot_changes
from course_utils.grading.limits import (DEFAULT_CELL_TIMEOUT, DEFAULT_MEMORY_GB, DEFAULT_OUTPUT_LIMIT,
                                         DEFAULT_PROFILE, DEFAULT_TOTAL_TIMEOUT, READBACK_TIMEOUT)
from course_utils.grading.loading import collect_submissions, load_assignment
from course_utils.grading.processes import kill_run
from course_utils.grading.sandbox import choose_sandbox
from course_utils.profiles import MODEL_ROLES

# The course's own choices, passed to the kernels and part of what a resume marker must match: grading
# with another model (COURSE_ENCODER=...) regrades everyone.
_COURSE_CHOICES = (*MODEL_ROLES.values(), "COURSE_PRECISION")
# Passed on to the kernel; everything else in the grader's environment (tokens, keys) is not.
_ENV_ALLOWED = {"PATH", "LANG", "LANGUAGE", "TZ", "PYTHONPATH", "HF_HOME", "HF_HUB_CACHE", "TRANSFORMERS_CACHE",
                "HF_DATASETS_CACHE", "TORCH_HOME", *_COURSE_CHOICES}


def grade_submissions(assignment: QuestionSet | str | Path, submissions: Iterable[str | Path], out: str | Path, *,
                      profile: str = DEFAULT_PROFILE, cell_timeout: float | None = DEFAULT_CELL_TIMEOUT,
                      total_timeout: float | None = DEFAULT_TOTAL_TIMEOUT,
                      memory_gb: float | None = DEFAULT_MEMORY_GB, hidden_checks: str | Path | None = None,
                      jobs: int = 1, output_limit: int = DEFAULT_OUTPUT_LIMIT, run_as: str | None = "auto",
                      package_dir: str | Path | None = None, verbose: bool = False,
                      readback_timeout: float = READBACK_TIMEOUT) -> list[StudentResult]:
    """Grade ``submissions`` (files, or folders of them) against ``assignment``; write ``out``.

    Returns one :class:`StudentResult` per submission, in order. ``run_as``: ``"auto"`` (the
    user ``nobody`` when the grader is root and ``nobody`` can run this Python, else the same
    user), a user name (required: an error if it cannot be used), or ``None`` (same user).
    ``package_dir``: the ``course_utils`` folder the kernels import (put first on their
    PYTHONPATH) and that is hashed before and after each submission; default: the installed
    one. ``readback_timeout``: seconds to read a run's answers and files back. Raises
    :class:`PackageAltered` (after writing what was graded) if a submission changed the
    package, :class:`GraderError` if the checks cannot be loaded.
    """
    # 1. Everything trusted is loaded before any submission runs.
    qs = load_assignment(assignment, hidden_checks)
    subs = collect_submissions(submissions)
    out = Path(out)
    default_package = Path(course_utils.__file__).resolve().parent
    package_dir = Path(package_dir).resolve() if package_dir else default_package
    if not (package_dir / "__init__.py").is_file():
        raise GraderError(f"{package_dir} is not a course_utils package folder: give the folder that holds "
                          "course_utils/__init__.py.")
    base_env = {k: v for k, v in os.environ.items() if k in _ENV_ALLOWED or k.startswith("LC_")}
    if package_dir != default_package:
        base_env["PYTHONPATH"] = os.pathsep.join([str(package_dir.parent)] + ([base_env["PYTHONPATH"]]
                                                                             if base_env.get("PYTHONPATH") else []))
    sandbox = choose_sandbox(run_as, base_env, package_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "grader.json"
    previous = (read_json(meta_path) or {}).get("assignment") if os.path.lexists(meta_path) else None
    if previous and previous != qs.name:
        raise GraderError(f"{out} holds grades for {previous!r}, not {qs.name!r}: choose another --out.")
    for sub in ("state", "feedback", "executed"):
        (out / sub).mkdir(exist_ok=True)
        os.chmod(out / sub, 0o700)  # other students' grades are nobody's business
    choices = {k: base_env[k] for k in _COURSE_CHOICES if base_env.get(k)}
    write_atomic(meta_path, json.dumps({"assignment": qs.name, "title": qs.title, "profile": profile,
                                        "course_choices": choices,
                                        "questions": [q.name for q in qs.questions], "max_points": qs.max_points,
                                        "hidden_checks": str(hidden_checks) if hidden_checks else None,
                                        "ran_as": sandbox.description, "ran_as_note": sandbox.note,
                                        "limits": {"cell_timeout": cell_timeout, "total_timeout": total_timeout,
                                                   "memory_gb": memory_gb, "output_limit": output_limit,
                                                   "readback_timeout": readback_timeout}},
                                       indent=1), mode=PRIVATE)
    ctx = Context(qs=qs, out=out, profile=profile, cell_timeout=cell_timeout, total_timeout=total_timeout,
                  memory_gb=memory_gb, output_limit=int(output_limit), jobs=max(1, int(jobs)), sandbox=sandbox,
                  base_env=base_env, fingerprint=fingerprint(qs, "|".join([profile, *(f"{k}={v}" for k, v in choices.items())]), hidden_checks), package_dir=package_dir,
                  readback_timeout=readback_timeout)
    # The grader writes no bytecode either while it grades, so the package's __pycache__ changes
    # only if a submission changes it.
    dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        return _grade_all(ctx, subs, verbose)
    finally:
        sys.dont_write_bytecode = dont_write


def _grade_all(ctx: Context, subs: list[tuple[str, Path]], verbose: bool) -> list[StudentResult]:
    qs, out, package_dir, sandbox = ctx.qs, ctx.out, ctx.package_dir, ctx.sandbox
    ctx.baseline = package_snapshot(package_dir)
    log(out, f"grading {len(subs)} submission(s) of {qs.name} as {sandbox.description}"
             + (f" ({sandbox.note})" if sandbox.note else ""), verbose)

    results: dict[str, StudentResult] = {}

    def save(result: StudentResult) -> None:
        with ctx.lock:
            results[result.student] = result
            write_atomic(out / "feedback" / f"{result.student}.md", feedback_markdown(result, qs), mode=PRIVATE)
            if not result.resumed:
                write_atomic(out / "state" / f"{result.student}.json", json.dumps(result.to_state(), indent=1),
                             mode=PRIVATE)
            write_gradebook(out, _all_results())

    def _all_results() -> list[StudentResult]:
        everyone = dict(results)
        for state_file in (out / "state").glob("*.json"):
            if state_file.stem not in everyone:
                state = load_state(state_file)
                if state and state.get("fingerprint") == ctx.fingerprint:
                    everyone[state_file.stem] = StudentResult.from_state(state)
        return list(everyone.values())

    def work(item: tuple[int, str, Path]) -> None:
        n, student, path = item
        if ctx.stop.is_set():
            return
        state = load_state(out / "state" / f"{student}.json")
        sha = read_submission(path)[1] if state else ""
        if state and sha and state.get("sha256") == sha and state.get("fingerprint") == ctx.fingerprint:
            result = StudentResult.from_state(state)
            save(result)
            log(out, f"[{n}/{len(subs)}] {student}: unchanged, kept ({result.status}, "
                     f"{fmt(result.points)}/{fmt(result.max_points)})", verbose)
            return
        result = grade_one(ctx, student, path)
        result.fingerprint = ctx.fingerprint
        with ctx.lock:
            changed = snapshot_changes(ctx.baseline, package_snapshot(package_dir))
            if changed and ctx.altered is None:
                ctx.altered = PackageAltered(student, changed)
                ctx.stop.set()
            elif changed:
                return  # ran while the package was altered: not recorded, graded again next time
        if changed:
            result = ungradable(qs, student, "it altered the installed course_utils (" + ", ".join(changed[:5]) +
                                "); grading stopped", submission=result.submission, sha256=result.sha256,
                                ran_as=result.ran_as, seconds=result.seconds)
            result.fingerprint = ctx.fingerprint
        save(result)
        log(out, f"[{n}/{len(subs)}] {student}: {result.status}, {fmt(result.points)}/{fmt(result.max_points)} "
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
        log(out, str(ctx.altered), verbose)
        raise ctx.altered
    return [results[student] for student, _ in subs if student in results]
