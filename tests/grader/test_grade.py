"""The instructor's grader on a toy assignment and a corpus of honest and hostile submissions.

The corpus (tests/grader/submissions/, written by make_submissions.py) is graded once, in one
module-scoped run with two jobs; each test then asserts on that run's results. Kernels import a
copy of course_utils (``package_dir``), so nothing here can alter the real package, and edits
others make to the real package meanwhile cannot stop these runs. Every run that could hang (a
grader that waited on a planted pipe) is bounded in time, so a regression fails instead of hanging.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

import course_utils
from course_utils import grade
from course_utils.grade import GRADEBOOK_COLUMNS, GraderError, PackageAltered, grade_submissions
from course_utils.grading import readback
from course_utils.grading.readback import copy_working_files

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TOY = str(HERE / "toy_assignment.py")
HIDDEN = str(HERE / "hidden_checks.py")
SUBMISSIONS = HERE / "submissions"
LIMITS = {"cell_timeout": 4, "total_timeout": 15, "memory_gb": 2, "readback_timeout": 10}
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
    "rob_fifo_answers": ("ungradable", 0, "answers file is a named pipe (FIFO)"),
    "sam_fifo_file": ("graded", 3, ""),
    "tess_device": ("graded", 3, ""),
    "uma_socket": ("graded", 3, ""),
    "vic_self_reference": ("partly graded", 3, "the answer to q2 could not be exported"),
    "wes_raises": ("partly graded", 3, "the answer to q2 could not be exported"),
    "xena_nbformat3": ("graded", 5, "older Jupyter (nbformat 3)"),
    "yuri_kills_runner": ("ungradable", 0, "runner was killed by SIGKILL"),
    "zack_other_version": ("graded", 5, "made against toy version 2; the grader checks version 1"),
}


def within(seconds: float, function, *args, **kwargs):
    """``function(...)``, or a test failure if it has not returned after ``seconds`` (it never hangs the suite)."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{getattr(function, '__name__', function)} did not finish within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def run_bound(n_submissions: int, jobs: int) -> float:
    """The longest a run may take: every submission at its total limit plus its read-back, and a margin."""
    rounds = -(-n_submissions // jobs)
    return rounds * (LIMITS["total_timeout"] + LIMITS["readback_timeout"] + 15) + 60


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
    started = time.monotonic()
    results = within(run_bound(len(EXPECTED), 2), grade_submissions, TOY, [SUBMISSIONS], out, jobs=2,
                     package_dir=package_copy, **LIMITS)
    print(f"corpus of {len(results)} graded in {time.monotonic() - started:.1f} s")
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
    for student, words in (("sam_fifo_file", ("named pipe (FIFO)",)), ("uma_socket", ("socket",)),
                           ("tess_device", ("character device", "link"))):  # a link where mknod is refused
        q3 = {o.question: o for o in results[student].outcomes}["q3"]
        assert q3.status == "incorrect" and any(w in q3.feedback for w in words), (student, q3.feedback)


def test_an_answer_that_cannot_be_exported_loses_only_itself(corpus):
    results, _, _ = corpus
    for student, words in (("vic_self_reference", "contains itself"),
                           ("wes_raises", "RuntimeError: no iterating over me")):
        outcomes = {o.question: o for o in results[student].outcomes}
        assert {q: o.status for q, o in outcomes.items()} == {"q1": "correct", "q2": "error", "q3": "correct",
                                                              "q4": "review"}, student
        assert words in outcomes["q2"].feedback and outcomes["q2"].needs_review, outcomes["q2"].feedback


def test_an_old_format_notebook_is_converted_and_graded(corpus):
    results, out, _ = corpus
    r = results["xena_nbformat3"]
    assert {o.question: o.status for o in r.outcomes} == {"q1": "correct", "q2": "correct", "q3": "correct",
                                                          "q4": "review"}
    assert "older Jupyter" in (out / "feedback" / "xena_nbformat3.md").read_text()


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


def test_the_sandbox_is_probed_once_per_python_package_and_environment(monkeypatch):
    from course_utils.grading import sandbox as chooser

    probes = []
    real_probe = chooser._probe
    monkeypatch.setattr(chooser, "_probe", lambda *args: probes.append(args) or real_probe(*args))
    monkeypatch.setattr(chooser, "_CHOSEN", {})
    env = {"PATH": os.environ.get("PATH", "")}
    package = Path(course_utils.__file__).resolve().parent
    first = chooser.choose_sandbox(None, env, package)
    first.note = "changed by the caller"
    again = chooser.choose_sandbox(None, env, package)
    assert len(probes) == 1 and again.note == "submissions run as the grader's own user (asked for)"
    chooser.choose_sandbox(None, {**env, "LANG": "C.UTF-8"}, package)  # another environment: probed again
    assert len(probes) == 2
    if os.geteuid() == 0 and chooser.choose_sandbox("auto", env, package).uid is None:
        for attempt in (1, 2):  # a refusal is not kept: each batch asks again
            before = len(probes)
            with pytest.raises(GraderError, match="cannot run submissions as 'nobody'"):
                chooser.choose_sandbox("nobody", env, package)
            assert len(probes) == before + 1, attempt


def test_collect_submissions_ids(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "Jo Smith (late).ipynb").write_text("{}")
    (tmp_path / "a" / ".hidden.ipynb").write_text("{}")
    ids = [student for student, _ in grade.collect_submissions([tmp_path / "a", tmp_path / "b"])]
    assert ids == ["Jo_Smith_late", "Jo_Smith_late-2"]
    assert grade.safe_id("../../etc/passwd") == "etc_passwd"
    with pytest.raises(GraderError):
        grade.collect_submissions([tmp_path / "missing.ipynb"])


def test_answers_file_is_validated(tmp_path):
    path = tmp_path / "a.json"
    for text, message in (("[1, 2]", "not a JSON object"), ("{\"x\": NaN}", "not valid JSON"),
                          ("{\"x\": ", "not valid JSON"), ("[" * 100_000, "not valid JSON")):
        path.write_text(text)
        assert message in grade.read_answers(path)[1]
    path.write_text(json.dumps({"x": 1}))
    assert grade.read_answers(path) == ({"x": 1}, "")
    link = tmp_path / "link.json"
    link.symlink_to(path)
    assert grade.read_answers(link)[0] is None
    assert grade.read_answers(tmp_path / "none.json") == (None, "no answers were exported")


def test_reading_back_never_waits_on_a_special_file(tmp_path):
    work, dest = tmp_path / "work", tmp_path / "dest"
    work.mkdir()
    dest.mkdir()
    os.mkfifo(work / "pipe.csv")
    os.mkfifo(work / "answers.json")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(work / "socket.csv"))
    (work / "zero.csv").symlink_to("/dev/zero")
    try:
        os.mknod(work / "device.csv", stat.S_IFCHR | 0o600, os.makedev(1, 5))
        kinds = {"device.csv": "character device"}
    except OSError:  # not allowed here: the link to /dev/zero covers the same danger
        kinds = {}
    kinds.update({"pipe.csv": "named pipe", "socket.csv": "socket", "zero.csv": "link"})
    try:
        problems = within(10, copy_working_files, list(kinds) + ["absent.csv"], work, dest)
        assert within(10, grade.read_answers, work / "answers.json") == (
            None, "the answers file is a named pipe (FIFO), not a regular file")
    finally:
        listener.close()
    assert set(problems) == set(kinds)
    for name, words in kinds.items():
        assert words in problems[name], problems[name]
    assert list(dest.iterdir()) == []


def test_the_read_back_is_bounded_in_time():
    started = time.monotonic()
    with pytest.raises(readback.ReadBackTimeout, match="longer than 0.2 s"):
        readback.bounded(lambda: time.sleep(3), timeout=0.2)
    assert time.monotonic() - started < 2
    with pytest.raises(ZeroDivisionError):
        readback.bounded(lambda: 1 / 0, timeout=5)


def test_files_a_submission_plants_never_make_a_later_student_wait(tmp_path, package_copy):
    """The first student plants pipes wherever it can reach (as the same user it can find the grades
    folder); the second is graded as usual, and the whole run ends within its limits."""
    out, subs = tmp_path / "out", tmp_path / "subs"
    subs.mkdir()
    targets = [out / "state" / "b_after.json", out / "grader.log", out / "gradebook.csv",
               out / "summary.csv", out / "feedback" / "b_after.md", out / "executed" / "b_after.ipynb"]
    planter = "\n".join([
        "import os, pathlib",
        f"targets = {[str(t) for t in targets]!r}",
        "targets += ['predictions.csv', '../runner.out', '../runner.err', '../evidence',",
        "            os.path.join(os.environ['HOME'], 'answers.json'), os.path.join(os.environ['TMPDIR'], 'x')]",
        "for target in targets:",
        "    pathlib.Path(target).parent.mkdir(parents=True, exist_ok=True)",
        "    if os.path.lexists(target):",
        "        os.remove(target)",
        "    os.mkfifo(target)",
        "n_rows = 3",
    ])
    for name, sources in (("a_planter", ["total = 4", planter]), ("b_after", None)):
        nb = nbformat.read(SUBMISSIONS / "alice_correct.ipynb", as_version=4)
        if sources:
            nb.cells = nb.cells[:1] + [nbformat.v4.new_code_cell(s) for s in sources]
        nbformat.write(nb, subs / f"{name}.ipynb")
    out.mkdir()
    command = [sys.executable, "-m", "course_utils.grade", TOY, str(subs), "--out", str(out), "--jobs", "1",
               "--cell-timeout", "10", "--timeout", str(LIMITS["total_timeout"]), "--package-dir", str(package_copy)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=run_bound(2, 1))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the grader waited on a file the first submission planted")
    assert proc.returncode == 0, stderr
    lines = {line.split()[0]: line.split()[1:] for line in stdout.splitlines() if line.startswith(("a_", "b_"))}
    assert lines["b_after"] == ["graded", "5/8"], stdout
    assert lines["a_planter"] == ["graded", "1/8"], stdout  # every pipe was planted: no cell failed
    assert "grader.log is not a regular file" in stderr
    state = json.loads((out / "state" / "b_after.json").read_text())  # a regular file again
    assert state["status"] == "graded" and state["points"] == 5
    rows = list(csv.DictReader(open(out / "gradebook.csv")))
    assert len(rows) == 8
    a_q3 = next(row for row in rows if row["student"] == "a_planter" and row["question"] == "q3")
    assert "named pipe" in a_q3["feedback"]


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
