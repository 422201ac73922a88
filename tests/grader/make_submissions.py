"""Writes the grader's test corpus, tests/grader/submissions/: run ``python tests/grader/make_submissions.py``.

Each file is one student's submission for the toy assignment (tests/grader/toy_assignment.py);
the file's stem is the student id, and ``EXPECTED`` in test_grade.py says what each deserves.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).parent / "submissions"

TOTAL = "total = 2 + 2"
SQUARES = "squares = [i * i for i in range(1, 4)]"
FILE = ("with open('predictions.csv', 'w') as f:\n"
        "    f.write('label\\npos\\nneg\\npos\\n')\n"
        "n_rows = 3")
REASON = "reason = 'It estimates how well the model does on data it has not seen.'"
CORRECT = [TOTAL, SQUARES, FILE, REASON]

# The tampering student: wrong answers, and everything it can do in its own kernel to look right.
TAMPER = r'''
import json, os, pathlib
import course_utils.exercises.core as core

total, squares, n_rows, reason = 5, [0], 0, "no"

def check(*args, **kwargs):
    print("All correct! 10/10")
    return "correct"

core.Question.evaluate = lambda self, values, workdir=".": core.Outcome(self.name, "correct", self.points,
                                                                         self.points, "hacked")
core.to_jsonable = lambda value, name="answer": "HACKED"
for name in ("q1", "q2", "q3", "q4"):
    globals()[name] = type("Fake", (), {"check": staticmethod(check)})()
q1.check()
print("All correct! 10/10")

fake = {"total": 4, "squares": [1, 4, 9], "n_rows": 3, "reason": "a perfectly good reason for full marks"}
for name in ("answers.json", "results.json", "_answers.json", "_answers_" + "0" * 32 + ".json"):
    pathlib.Path(name).write_text(json.dumps(fake))
pathlib.Path("gradebook.csv").write_text("student,question,points\nivan_tamper,q1,100\n")
os.makedirs("feedback", exist_ok=True)
pathlib.Path("feedback/ivan_tamper.md").write_text("Total: 10 / 10 points (graded)")
for folder in (pathlib.Path.cwd().parent, pathlib.Path.home(), pathlib.Path(os.environ.get("TMPDIR", "."))):
    try:
        (folder / "gradebook.csv").write_text("student,question,points\nivan_tamper,q1,100\n")
        (folder / "answers.json").write_text(json.dumps(fake))
    except OSError:
        pass
'''

# Escapes its kernel: a double-forked, new-session daemon that ignores SIGTERM and outlives the run.
DAEMON = r'''
import os, signal, subprocess, sys
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(987.654)"])
    os._exit(0)
os.waitpid(pid, 0)
'''

# Tries to change the installed package; only ever a copy made by the tests (the path says so).
PACKAGE = r'''
import pathlib
import course_utils.exercises.core as core
target = pathlib.Path(core.__file__)
if "grader-pkg-copy" in str(target):
    try:
        with open(target, "a") as f:
            f.write("\n# altered by a submission\n")
        print("appended to", target)
    except OSError as error:
        print("could not alter the package:", error)
'''

NOTEBOOKS = {
    "alice_correct": CORRECT,
    "bob_wrong": ["total = 5", "squares = [1, 2, 3]",
                  "with open('predictions.csv', 'w') as f:\n    f.write('label\\nneg\\nneg\\nneg')\nn_rows = 3",
                  "reason = 'idk'"],
    "carol_unanswered": ["# TODO: answer the questions\npass"],
    "dave_loop": [TOTAL, SQUARES, "while True:\n    pass", FILE, REASON],
    "erin_hang": [TOTAL, "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
                  SQUARES],
    "frank_exit": [TOTAL, SQUARES, "import os\nos._exit(1)", FILE, REASON],
    "gina_kill9": [TOTAL, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", SQUARES],
    "hank_exception": [TOTAL, SQUARES, "1 / 0", FILE, REASON],
    "ivan_tamper": [TAMPER],
    "judy_deletes_file": CORRECT + ["import os\nos.remove('predictions.csv')"],
    "ken_flood": [TOTAL, "for i in range(2000):\n    print('x' * 5000)", SQUARES, FILE, REASON],
    "olga_memory": [TOTAL, "big = bytearray(3 * 2**30)", SQUARES, FILE, REASON],
    "pat_symlink": [TOTAL, SQUARES, "import os\nos.symlink('/etc/hostname', 'predictions.csv')\nn_rows = 3",
                    REASON],
    "quinn_daemon": [DAEMON] + CORRECT,
}


def notebook(sources: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Toy assignment")]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    return nb


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for name, sources in NOTEBOOKS.items():
        nbformat.write(notebook(sources), HERE / f"{name}.ipynb")
    (HERE / "tamper_package").mkdir(exist_ok=True)
    nbformat.write(notebook(CORRECT + [PACKAGE]), HERE / "tamper_package" / "rita_package.ipynb")
    (HERE / "liam_notes.txt").write_text("total = 4\nI did the exercises on paper.\n")
    (HERE / "mia_corrupt.ipynb").write_text('{"cells": [{"cell_type": "code", "source": "total = ')
    (HERE / "nick_script.py").write_text(TOTAL + "\n" + SQUARES + "\n")


if __name__ == "__main__":
    main()
