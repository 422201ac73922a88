"""Writes the grader's test corpus, tests/grader/submissions/: run ``python tests/grader/make_submissions.py``.

Each file is one student's submission for the toy assignment (tests/grader/toy_assignment.py);
the file's stem is the student id, and ``EXPECTED`` in test_grade.py says what each deserves.
"""

from __future__ import annotations

import hashlib
import json
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
import course_utils.jsonable as jsonable
core.to_jsonable = jsonable.to_jsonable = lambda value, name="answer", **kwargs: "HACKED"
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

# Replaces the grader's export with a named pipe at the answers file's path: opening a pipe to
# read waits for a writer, so a grader that opened it plainly would wait forever.
FIFO_ANSWERS = r'''
import os
import course_utils.jsonable as jsonable

def _pipe_instead(namespace, variables, path):
    os.mkfifo(path)

jsonable.write_answers = _pipe_instead
'''

FIFO_FILE = "import os\nos.mkfifo('predictions.csv')\nn_rows = 3"

# A character device (/dev/zero's numbers) where the grader reads a file; a link to /dev/zero
# where creating devices is not allowed. Either way, reading it would never end.
DEVICE_FILE = r'''
import os, stat
try:
    os.mknod("predictions.csv", stat.S_IFCHR | 0o666, os.makedev(1, 5))
    made = "device"
except OSError:
    os.symlink("/dev/zero", "predictions.csv")
    made = "link"
print("predictions.csv is a", made)
n_rows = 3
'''

SOCKET_FILE = r'''
import socket
_listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
_listener.bind("predictions.csv")
_listener.listen(1)
n_rows = 3
'''

SELF_REFERENCE = "squares = [1, 4, 9]\nsquares.append(squares)"

# Converting it runs its own code, which raises: only this answer may be lost.
RAISES = r'''
class Squares(list):
    def __iter__(self):
        raise RuntimeError("no iterating over me")

squares = Squares([1, 4, 9])
'''

NOTEBOOKS = {
    "alice_correct": CORRECT,
    "bob_wrong": ["total = 5", "squares = [1, 2, 3]",
                  "with open('predictions.csv', 'w') as f:\n    f.write('label\\nneg\\nneg\\nneg')\nn_rows = 3",
                  "reason = 'idk'"],
    "carol_unanswered": ["# TODO: answer the questions\npass"],
    "dave_loop": [TOTAL, SQUARES, "while True:\n    pass", FILE, REASON],
    # A hang that ignores the interrupt, so only the total limit ends it. It sleeps rather than spins: the
    # grader's path is the same, and a spinning loop would burn 15 s of a core the other tests need.
    "erin_hang": [TOTAL, "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n"
                  "    time.sleep(1)", SQUARES],
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
    "rob_fifo_answers": CORRECT + [FIFO_ANSWERS],
    "sam_fifo_file": [TOTAL, SQUARES, FIFO_FILE, REASON],
    "tess_device": [TOTAL, SQUARES, DEVICE_FILE, REASON],
    "uma_socket": [TOTAL, SQUARES, SOCKET_FILE, REASON],
    "vic_self_reference": [TOTAL, SELF_REFERENCE, FILE, REASON],
    "wes_raises": [TOTAL, RAISES, FILE, REASON],
    "yuri_kills_runner": [TOTAL, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", SQUARES, FILE, REASON],
}
# Saved by an older Jupyter: nbformat 3, cells inside "worksheets".
OLD_FORMAT = {"xena_nbformat3": CORRECT}
# Made from an exercise notebook of another version of the question set than the grader's.
OTHER_VERSION = {"zack_other_version": CORRECT}


def notebook(name: str, sources: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Toy assignment")]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    for i, cell in enumerate(nb.cells):  # the same ids each time: regenerating changes nothing
        cell.id = hashlib.sha256(f"{name}/{i}".encode()).hexdigest()[:8]
    return nb


def old_notebook(sources: list[str]) -> str:
    """The notebook as nbformat 3 JSON, as Jupyter before 2015 saved it."""
    v3 = nbformat.v3
    cells = [v3.new_text_cell("markdown", source="# Toy assignment")]
    cells += [v3.new_code_cell(input=source) for source in sources]
    return nbformat.writes(v3.new_notebook(worksheets=[v3.new_worksheet(cells=cells)]), version=3)


def write(path: Path, text: str) -> None:
    """Write unless the file already holds the same notebook (cell ids aside), so the corpus stays put."""
    if path.exists():
        try:
            old, new = json.loads(path.read_text()), json.loads(text)
            strip = lambda nb: [{k: v for k, v in c.items() if k != "id"} for c in nb.get("cells", [])]  # noqa: E731
            if old.get("nbformat") == new.get("nbformat") and strip(old) == strip(new) and \
                    old.get("worksheets") == new.get("worksheets"):
                return
        except ValueError:
            pass
    path.write_text(text)


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for name, sources in NOTEBOOKS.items():
        write(HERE / f"{name}.ipynb", nbformat.writes(notebook(name, sources)) + "\n")
    for name, sources in OTHER_VERSION.items():
        nb = notebook(name, sources)
        nb.metadata["course"] = {"assignment": "toy", "version": 2}
        write(HERE / f"{name}.ipynb", nbformat.writes(nb) + "\n")
    for name, sources in OLD_FORMAT.items():
        write(HERE / f"{name}.ipynb", old_notebook(sources) + "\n")
    (HERE / "tamper_package").mkdir(exist_ok=True)
    write(HERE / "tamper_package" / "rita_package.ipynb",
          nbformat.writes(notebook("rita_package", CORRECT + [PACKAGE])) + "\n")
    (HERE / "liam_notes.txt").write_text("total = 4\nI did the exercises on paper.\n")
    (HERE / "mia_corrupt.ipynb").write_text('{"cells": [{"cell_type": "code", "source": "total = ')
    (HERE / "nick_script.py").write_text(TOTAL + "\n" + SQUARES + "\n")


if __name__ == "__main__":
    main()
