"""Ten sample submissions of exercise 01, to try the grader and time it (the README's sample).

    python tools/make_sample_submissions.py build/sample_submissions
    python -m course_utils.grade ex01 build/sample_submissions --out build/sample_grades --jobs 2

Four solved, two untouched, one half done, one with a wrong answer, one whose first answer cell
raises, and one that is not a notebook.
"""

import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def solution_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source]


def main(out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    solution = ROOT / "solutions" / "01_dataset_audit.ipynb"
    exercise = ROOT / "exercises" / "01_dataset_audit.ipynb"
    for name in ("ana", "ben", "chloe", "dmitri"):
        shutil.copy(solution, out / f"{name}.ipynb")
    for name in ("eva", "farid"):
        shutil.copy(exercise, out / f"{name}.ipynb")
    half = nbformat.read(solution, as_version=4)
    cells = solution_cells(half)
    for cell in cells[len(cells) // 2:]:
        cell.source = "pass  # ran out of time"
    nbformat.write(half, out / "gus.ipynb")
    wrong = nbformat.read(solution, as_version=4)
    solution_cells(wrong)[0].source += "\nn_unusable = n_unusable + 3  # counted twice"
    nbformat.write(wrong, out / "hana.ipynb")
    broken = nbformat.read(solution, as_version=4)
    first = solution_cells(broken)[0]
    first.source = "raise RuntimeError('oops')\n" + first.source
    nbformat.write(broken, out / "ivo.ipynb")
    (out / "jun.py").write_text("print('my answers are in here')\n")
    print(f"wrote {len(list(out.iterdir()))} submissions to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "sample_submissions")
