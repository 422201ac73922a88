"""The instructor's grader on a toy assignment and a corpus of honest and hostile submissions.

The corpus (tests/grader/submissions/, written by make_submissions.py) is graded once, in one
module-scoped run with two jobs; each test then asserts on that run's results. Kernels import a
copy of course_utils (``package_dir``), so nothing here can alter the real package, and edits
others make to the real package meanwhile cannot stop these runs.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import course_utils
from course_utils import grade
from course_utils.grade import GRADEBOOK_COLUMNS, GraderError, PackageAltered, grade_submissions

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TOY = str(HERE / "toy_assignment.py")
HIDDEN = str(HERE / "hidden_checks.py")
SUBMISSIONS = HERE / "submissions"
LIMITS = {"cell_timeout": 4, "total_timeout": 15, "memory_gb": 2}
DAEMON_MARK = b"987.654"  # quinn_daemon's escaped process sleeps this long

# student: (status, points out of 8, words the reason must contain)
EXPECTED = {
    "alice_correct": ("graded", 5, ""),
    "bob_wrong": ("graded", 0, ""),
    "carol_unanswered": ("graded", 0, ""),
    "dave_loop": ("partly graded", 5, "cell time limit"),
    "erin_hang": ("ungradable", 0, "total time limit"),
    "frank_exit": ("ungradable", 0, "kernel died"),
    "gina_kill9": ("ungradable", 0, "kernel died"),
    "hank_exception": ("partly graded", 5, "ZeroDivisionError"),
    "ivan_tamper": ("graded", 0, ""),
    "judy_deletes_file": ("graded", 3, ""),
    "ken_flood": ("partly graded", 5, "output passed"),
    "liam_notes": ("ungradable", 0, "not a notebook"),
    "mia_corrupt": ("ungradable", 0, "not a valid notebook"),
    "nick_script": ("ungradable", 0, "not a notebook"),
    "olga_memory": ("partly graded", 5, "MemoryError"),
    "pat_symlink": ("graded", 3, ""),
    "quinn_daemon": ("graded", 5, ""),
}


def copy_package(dest: Path) -> Path:
    target = dest / "course_utils"
    shutil.copytree(Path(course_utils.__file__).parent, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def daemons() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if DAEMON_MARK in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory):
    return copy_package(tmp_path_factory.mktemp("grader-pkg-copy"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, package_copy):
    out = tmp_path_factory.mktemp("corpus-grades")
    results = grade_submissions(TOY, [SUBMISSIONS], out, jobs=2, package_dir=package_copy, **LIMITS)
    leftover = daemons()
    return {r.student: r for r in results}, out, leftover


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_submission_gets_the_grade_it_deserves(corpus, student):
    results, _, _ = corpus
    status, points, reason = EXPECTED[student]
    r = results[student]
    assert (r.status, r.points, r.max_points) == (status, points, 8), r.reason
    assert reason in r.reason
    assert len(r.outcomes) == 4
    if status == "ungradable":
        assert all(o.status == "error" and o.needs_review for o in r.outcomes)


def test_corpus_is_complete_and_in_order(corpus):
    results, _, _ = corpus
    assert list(results) == sorted(EXPECTED)


def test_answers_before_and_after_a_failing_cell_still_count(corpus):
    results, _, _ = corpus
    for student in ("dave_loop", "hank_exception", "ken_flood", "olga_memory"):
        statuses = {o.question: o.status for o in results[student].outcomes}
        assert statuses == {"q1": "correct", "q2": "correct", "q3": "correct", "q4": "review"}, student


def test_tampering_in_the_kernel_does_not_change_the_grade(corpus):
    results, out, _ = corpus
    r = results["ivan_tamper"]
    assert r.points == 0
    assert {o.question: o.status for o in r.outcomes} == {q: "incorrect" for q in ("q1", "q2", "q3", "q4")}
    assert "HACKED" in r.outcomes[0].feedback  # its patched to_jsonable only changed its own answer values
    rows = [row for row in csv.DictReader(open(out / "gradebook.csv")) if row["student"] == "ivan_tamper"]
    assert [row["points"] for row in rows] == ["0"] * 4
    feedback = (out / "feedback" / "ivan_tamper.md").read_text()
    assert "Total: 0 / 8 points" in feedback and "10 / 10" not in feedback
    assert not (out / "answers.json").exists()


def test_working_file_problems_are_named(corpus):
    results, _, _ = corpus
    q3 = {o.question: o for o in results["judy_deletes_file"].outcomes}["q3"]
    assert q3.status == "incorrect" and "'predictions.csv' was not found" in q3.feedback
    q3 = {o.question: o for o in results["pat_symlink"].outcomes}["q3"]
    assert q3.status == "incorrect" and "link" in q3.feedback


def test_no_process_outlives_its_run(corpus):
    _, _, leftover = corpus
    for pid in leftover:  # clean up before failing
        os.kill(pid, 9)
    assert leftover == []


def test_gradebook_columns_and_atomic_writes(corpus):
    results, out, _ = corpus
    with open(out / "gradebook.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames) == GRADEBOOK_COLUMNS
    assert len(rows) == 4 * len(EXPECTED)
    erin = [row for row in rows if row["student"] == "erin_hang"]
    assert {row["submission_status"] for row in erin} == {"ungradable"}
    assert "total time limit" in erin[0]["submission_reason"]
    assert all(row["ran_as"] for row in rows)
    summary = {row["student"]: row for row in csv.DictReader(open(out / "summary.csv"))}
    assert summary["alice_correct"]["points"] == "5" and summary["alice_correct"]["status"] == "graded"
    for student in EXPECTED:
        assert (out / "feedback" / f"{student}.md").is_file()
        assert json.loads((out / "state" / f"{student}.json").read_text())["sha256"]
    assert [p for p in out.rglob("*") if p.name.endswith(".tmp")] == []


def test_feedback_is_readable(corpus):
    _, out, _ = corpus
    alice = (out / "feedback" / "alice_correct.md").read_text()
    assert "Total: 5 / 8 points" in alice and "reviewed by the instructor" in alice and "## q1 ✓ correct" in alice
    assert "could not be graded" in (out / "feedback" / "frank_exit.md").read_text()
    assert "Partly graded" in (out / "feedback" / "hank_exception.md").read_text()


def test_resume_regrades_only_what_changed(corpus, tmp_path, package_copy):
    _, out, _ = corpus
    again = tmp_path / "grades"
    shutil.copytree(out, again)
    (again / "state" / "bob_wrong.json").unlink()
    (again / "feedback" / "bob_wrong.md").unlink()
    changed = tmp_path / "changed"
    changed.mkdir()
    nb = nbformat.read(SUBMISSIONS / "alice_correct.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("total = 3"))
    nbformat.write(nb, changed / "alice_correct.ipynb")
    subs = [p for p in sorted(SUBMISSIONS.iterdir()) if p.is_file() and p.stem != "alice_correct"]
    results = grade_submissions(TOY, subs + [changed / "alice_correct.ipynb"], again, jobs=2,
                                package_dir=package_copy, **LIMITS)
    regraded = {r.student for r in results if not r.resumed}
    assert regraded == {"alice_correct", "bob_wrong"}
    by_student = {r.student: r for r in results}
    assert by_student["alice_correct"].points == 4 and by_student["bob_wrong"].points == 0
    assert (again / "feedback" / "bob_wrong.md").is_file()
    assert "unchanged, kept" in (again / "grader.log").read_text()
    rows = list(csv.DictReader(open(again / "gradebook.csv")))
    assert len(rows) == 4 * len(EXPECTED)


def test_hidden_checks_are_added_and_applied(tmp_path, package_copy):
    subs = [SUBMISSIONS / "alice_correct.ipynb", SUBMISSIONS / "bob_wrong.ipynb"]
    results = grade_submissions(TOY, subs, tmp_path, jobs=2, hidden_checks=HIDDEN, package_dir=package_copy,
                                **LIMITS)
    alice, bob = results
    assert alice.max_points == 10 and alice.points == 7
    assert {o.question: o.status for o in alice.outcomes}["h2"] == "correct"
    bob_hidden = {o.question: o for o in bob.outcomes if o.question.startswith("h")}
    assert bob_hidden["h1"].status == "correct"  # 5 is an integer
    assert bob_hidden["h2"].status == "incorrect" and "newline" in bob_hidden["h2"].feedback
    assert "h1" in (tmp_path / "gradebook.csv").read_text()


def test_broken_checks_stop_before_any_submission_runs(tmp_path):
    broken = tmp_path / "hidden.py"
    broken.write_text("HIDDEN = [undefined_name]\n")
    with pytest.raises(GraderError, match="NameError"):
        grade_submissions(TOY, [SUBMISSIONS / "alice_correct.ipynb"], tmp_path / "out", hidden_checks=broken)
    assert not (tmp_path / "out").exists()
    clash = tmp_path / "clash.py"
    clash.write_text("from course_utils.exercises.core import Question\n"
                     "HIDDEN = [Question('q1', 'again', ('total',), lambda v, w: None)]\n")
    with pytest.raises(GraderError, match="already used"):
        grade.load_assignment(TOY, clash)


def test_a_submission_altering_course_utils_stops_grading(tmp_path):
    real = Path(course_utils.__file__).parent / "exercises" / "core.py"
    real_before = hashlib.sha256(real.read_bytes()).hexdigest()
    package = copy_package(tmp_path / "grader-pkg-copy")
    subs = [SUBMISSIONS / "tamper_package" / "rita_package.ipynb", SUBMISSIONS / "alice_correct.ipynb"]
    out = tmp_path / "out"
    with pytest.raises(PackageAltered, match="course_utils/exercises/core.py") as caught:
        grade_submissions(TOY, subs, out, package_dir=package, **LIMITS)
    assert caught.value.student == "rita_package"
    state = json.loads((out / "state" / "rita_package.json").read_text())
    assert state["status"] == "ungradable" and "altered the installed course_utils" in state["reason"]
    assert not (out / "state" / "alice_correct.json").exists()  # not run after the alteration
    assert "altered" in (package / "exercises" / "core.py").read_text()[-40:]
    assert hashlib.sha256(real.read_bytes()).hexdigest() == real_before


def test_sandbox_user_choice(tmp_path):
    env = {"PATH": os.environ.get("PATH", "")}
    package = Path(course_utils.__file__).resolve().parent
    sandbox = grade.choose_sandbox("auto", env, package)
    if sandbox.uid is None:
        assert sandbox.description.startswith("same user") and sandbox.note
        if os.geteuid() == 0:
            with pytest.raises(GraderError, match="cannot run submissions as 'nobody'"):
                grade.choose_sandbox("nobody", env, package)
    else:
        assert sandbox.description == "nobody"
    assert grade.choose_sandbox(None, env, package).uid is None


def test_collect_submissions_ids(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "Jo Smith (late).ipynb").write_text("{}")
    (tmp_path / "a" / ".hidden.ipynb").write_text("{}")
    ids = [student for student, _ in grade.collect_submissions([tmp_path / "a", tmp_path / "b"])]
    assert ids == ["Jo_Smith_late", "Jo_Smith_late-2"]
    assert grade._safe_id("../../etc/passwd") == "etc_passwd"
    with pytest.raises(GraderError):
        grade.collect_submissions([tmp_path / "missing.ipynb"])


def test_answers_file_is_validated(tmp_path):
    path = tmp_path / "a.json"
    for text, message in (("[1, 2]", "not a JSON object"), ("{\"x\": NaN}", "not valid JSON"),
                          ("{\"x\": ", "not valid JSON"), ("[" * 100_000, "not valid JSON")):
        path.write_text(text)
        assert message in grade._read_answers(path)[1]
    path.write_text(json.dumps({"x": 1}))
    assert grade._read_answers(path) == ({"x": 1}, "")
    link = tmp_path / "link.json"
    link.symlink_to(path)
    assert grade._read_answers(link)[0] is None
    assert grade._read_answers(tmp_path / "none.json") == (None, "no answers were exported")


def test_assignment_from_module_path_file_and_notebook(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    assert grade.load_assignment("tests.grader.toy_assignment:QUESTIONS").name == "toy"
    assert grade.load_assignment(TOY).name == "toy"
    assert grade.load_assignment(TOY + ":QUESTIONS").max_points == 8
    exercise = nbformat.v4.new_notebook()
    exercise.metadata["course"] = {"assignment": "tests.grader.toy_assignment:QUESTIONS"}
    nbformat.write(exercise, tmp_path / "exercise.ipynb")
    assert grade.load_assignment(str(tmp_path / "exercise.ipynb")).name == "toy"
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "plain.ipynb")
    with pytest.raises(GraderError, match="assignment"):
        grade.load_assignment(str(tmp_path / "plain.ipynb"))
    with pytest.raises(GraderError):
        grade.load_assignment("no_such_assignment")


def test_write_atomic_leaves_no_temporary_file(tmp_path):
    grade.write_atomic(tmp_path / "x" / "f.txt", "one")
    grade.write_atomic(tmp_path / "x" / "f.txt", "two")
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["f.txt"]
    assert (tmp_path / "x" / "f.txt").read_text() == "two"


def test_command_line(tmp_path, package_copy):
    help_text = subprocess.run([sys.executable, "-m", "course_utils.grade", "--help"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout
    for option in ("--out", "--profile", "--cell-timeout", "--timeout", "--memory-gb", "--hidden-checks", "--jobs"):
        assert option in help_text
    run = subprocess.run([sys.executable, "-m", "course_utils.grade", "tests.grader.toy_assignment:QUESTIONS",
                          str(SUBMISSIONS / "alice_correct.ipynb"), str(SUBMISSIONS / "nick_script.py"),
                          "--out", str(tmp_path), "--cell-timeout", "10", "--timeout", "60",
                          "--package-dir", str(package_copy)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "alice_correct  graded" in run.stdout and "nick_script" in run.stdout
    assert (tmp_path / "gradebook.csv").is_file()
    bad = subprocess.run([sys.executable, "-m", "course_utils.grade", "no_such_assignment", str(tmp_path),
                          "--out", str(tmp_path / "x")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 3 and "error:" in bad.stderr
