"""Running and grading the solution and exercise notebooks of ex01-ex07 and challenges 1-3.

Solutions must earn full marks on the auto-scored questions (and be complete on the questions
an instructor reviews); untouched exercises must run without an error and earn nothing, every
question "unanswered". Notebooks are executed and graded by the instructors' grader
(``course_utils.grade.grade_submissions``: fresh kernel, smoke profile, answers exported as JSON
and checked in this process), each assignment's solution and exercise in one call. For ex03
(see USES_CACHED_CLASSIFIER), a small fallback executes them with nbclient and grades the
exported answers the same way.

The lessons' notebooks and the challenges' live in two test modules, so that
``pytest -n 2 --dist loadfile`` gives each worker one half; within a module the ``graded``
fixture runs each assignment once for both of its tests.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from course_utils.exercises import load
from course_utils.grade import grade_submissions


ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = {"ex01": "01_dataset_audit.ipynb", "ex02": "02_classification_finetuning.ipynb",
             "ex03": "03_evaluation.ipynb", "challenge1": "challenge1_classifier.ipynb",
             "challenge2": "challenge2_freezing.ipynb", "ex04": "04_catastrophic_forgetting.ipynb",
             "ex05": "05_instruction_finetuning.ipynb", "challenge3": "challenge3_instructions.ipynb",
             "ex06": "06_lora.ipynb", "ex07": "07_best_practices.ipynb"}
KINDS = {"solution": "solutions", "exercise": "exercises"}
# These notebooks start from lesson 03's cached classifier. The grader gives every run a fresh,
# empty cache (isolation), so through it each of the two notebooks would train the classifier
# again; the fallback shares the test run's cache (COURSE_CACHE_DIR) with lesson 03 instead.
USES_CACHED_CLASSIFIER = {"ex03"}
CELL_TIMEOUT, TOTAL_TIMEOUT = 600, 1200


def run_and_grade(notebook: Path, assignment: str, workdir: Path) -> dict:
    """The fallback: execute ``notebook`` in ``workdir`` with nbclient, export, grade here."""
    import nbformat
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell

    nb = nbformat.read(notebook, as_version=4)
    qs = load(assignment)
    nb.cells.append(new_code_cell("from course_utils.exercises import export_answers\n"
                                  f"export_answers(globals(), {qs.variables!r}, 'answers.json')"))
    start = time.perf_counter()
    NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()
    values = json.loads((workdir / "answers.json").read_text())
    return {"status": "graded", "reason": "", "outcomes": qs.grade(values, workdir),
            "seconds": time.perf_counter() - start}


@pytest.fixture(scope="module")
def smoke_env():
    """Kernels inherit this process's environment: the smoke profile, a shared classifier cache."""
    saved = {k: os.environ.get(k) for k in ("COURSE_PROFILE", "COURSE_CACHE_DIR")}
    os.environ["COURSE_PROFILE"] = "smoke"
    os.environ.setdefault("COURSE_CACHE_DIR", str(ROOT / "build" / "test-cache"))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def graded(tmp_path_factory, smoke_env):
    """``graded(assignment)`` -> {"solution": result, "exercise": result}, each run once."""
    cache: dict = {}
    # Kernels import a copy, so that others editing the real package meanwhile (or another
    # test worker writing its bytecode) cannot look like a submission tampering with it.
    import course_utils

    package = tmp_path_factory.mktemp("package") / "course_utils"
    shutil.copytree(Path(course_utils.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__"))

    def get(assignment: str) -> dict:
        if assignment in cache:
            return cache[assignment]
        work = tmp_path_factory.mktemp(assignment)
        if assignment in USES_CACHED_CLASSIFIER:
            results = {}
            for kind, folder in KINDS.items():
                (work / kind).mkdir()
                results[kind] = run_and_grade(ROOT / folder / NOTEBOOKS[assignment], assignment, work / kind)
        else:
            submissions = work / "submissions"
            submissions.mkdir()
            for kind, folder in KINDS.items():
                shutil.copy(ROOT / folder / NOTEBOOKS[assignment], submissions / f"{kind}.ipynb")
            graded_list = grade_submissions(assignment, [submissions], work / "out", profile="smoke",
                                            cell_timeout=CELL_TIMEOUT, total_timeout=TOTAL_TIMEOUT,
                                            jobs=1, package_dir=package)
            results = {r.student: {"status": r.status, "reason": r.reason, "outcomes": r.outcomes,
                                   "seconds": r.seconds} for r in graded_list}
        how = "nbclient fallback" if assignment in USES_CACHED_CLASSIFIER else "grader"
        for kind, result in results.items():
            print(f"{assignment} {kind}: {result['status']} in {result['seconds']:.1f} s ({how})")
        cache[assignment] = results
        return results

    return get


def assert_full_marks(assignment: str, result: dict) -> None:
    assert result["status"] == "graded", result["reason"]
    questions = load(assignment).by_name
    for outcome in result["outcomes"]:
        expected = "correct" if questions[outcome.question].auto else "review"
        assert outcome.status == expected, outcome


def assert_earns_nothing(assignment: str, result: dict) -> None:
    assert result["status"] == "graded", result["reason"]
    assert [o.status for o in result["outcomes"]] == ["unanswered"] * len(load(assignment).questions)
    assert sum(o.points for o in result["outcomes"]) == 0


@pytest.fixture
def checks():
    """The two verdicts every assignment's notebooks must earn: ``checks.full_marks(assignment,
    result)`` for a solution, ``checks.earns_nothing(assignment, result)`` for an untouched exercise."""
    return SimpleNamespace(full_marks=assert_full_marks, earns_nothing=assert_earns_nothing)


def pytest_generate_tests(metafunc):
    """``assignment`` runs over the test module's ``ASSIGNMENTS``."""
    if "assignment" in metafunc.fixturenames:
        metafunc.parametrize("assignment", metafunc.module.ASSIGNMENTS)
