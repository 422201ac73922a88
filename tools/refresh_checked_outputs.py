"""Execute notebooks and keep only the outputs of their NBVAL_CHECK_OUTPUT cells.

    python tools/refresh_checked_outputs.py notebooks/01_dataset_audit.ipynb [...]

Lessons are committed without outputs, except the cells whose output nbval checks; this runs a
notebook in the smoke profile, then writes it back with every other output and execution count
removed. Run it after changing what a checked cell prints (and read the diff).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

CHECK = "NBVAL_CHECK_OUTPUT"


def strip(nb) -> None:
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if CHECK in cell.source:
            # stderr (warnings, progress bars) is never part of a checked output
            cell.outputs = [o for o in cell.outputs if o.get("name") != "stderr"]
        else:
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)


def main(paths: list[str]) -> int:
    os.environ.setdefault("COURSE_PROFILE", "smoke")
    for name in paths:
        path = Path(name).resolve()
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        strip(nb)
        nbformat.write(nb, path)
        print(f"refreshed {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
