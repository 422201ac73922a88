"""Runs one submitted notebook for the grader, in the grader's child process (internal).

``python -I -B course_utils/grading/runner.py`` reads one JSON object on stdin (the notebook,
with the grader's export cell already appended, and the limits), sets its own resource limits
(the kernel it starts inherits them), executes the notebook with nbclient in a fresh kernel
whose working folder is the runner's, and writes one JSON object to stdout: what happened
(errors by cell, cells that ran past the time limit, whether the output was cut, whether the
kernel died) and the executed notebook. The grader started it in a new session and kills the
whole tree (kernel included) when it ends or runs past the total time limit.
``--probe`` only checks that the runner can start (its imports), for the sandbox probe.

Nothing here is trusted for points: a submission running as the same user could write to this
process's stdout. The grader takes points only from the answers file and the working files,
and checks them in its own process. The runner imports :mod:`course_utils.grading.processes`
before any submission code runs (the grader hashed the package before the first run and
checks it after each), so a submission cannot change how its own run is ended.

>>> _short("x" * 5, limit=3)
'xxx…'
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):  # started by path, isolated (-I): import the grader's own package
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from course_utils.grading.processes import end_descendants  # noqa: E402 (after the path is set)

PR_SET_CHILD_SUBREAPER = 36
MAX_REPORTED_TEXT = 2_000


def set_limits(config: dict) -> None:
    """Memory (RLIMIT_DATA), file size, no core files; process count only for a sandbox user."""
    memory_gb = config.get("memory_gb")
    if memory_gb:
        limit = int(float(memory_gb) * 2**30)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if config.get("max_file_bytes"):
        size = int(config["max_file_bytes"])
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    if config.get("max_processes"):
        n = int(config["max_processes"])
        resource.setrlimit(resource.RLIMIT_NPROC, (n, n))
    os.umask(0o077)


def become_subreaper() -> bool:
    """Orphans of the kernel (daemons a notebook starts) are re-parented here, so we can end them."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _short(text, limit: int = MAX_REPORTED_TEXT) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "…"


def make_client_class():
    """nbclient's NotebookClient with an output cap and a record of errors and timeouts by cell."""
    from nbclient import NotebookClient

    class LimitedClient(NotebookClient):
        """nbclient with a cap on the captured output and a record of what went wrong, by cell."""

        def __init__(self, nb, output_limit: int, **kwargs):
            super().__init__(nb, **kwargs)
            self.output_limit = output_limit
            self.output_bytes = 0
            self.flooded_cells: list[int] = []
            self.errors: list[dict] = []
            self.timeouts: list[int] = []
            self.current_cell: int | None = None

        async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
            self.current_cell = cell_index
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

        async def _async_handle_timeout(self, timeout, cell=None):
            if self.current_cell is not None and self.current_cell not in self.timeouts:
                self.timeouts.append(self.current_cell)
            return await super()._async_handle_timeout(timeout, cell)

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content", {})
            if msg.get("msg_type") == "error" and len(self.errors) < 100:
                self.errors.append({"cell": cell_index, "ename": _short(content.get("ename", ""), 200),
                                    "evalue": _short(content.get("evalue", ""))})
            size = len(json.dumps(content, default=str))
            if self.output_bytes + size > self.output_limit:
                if cell_index not in self.flooded_cells:
                    self.flooded_cells.append(cell_index)
                return None  # dropped: the captured output stays under the limit
            self.output_bytes += size
            return super().output(outs, msg, display_id, cell_index)

    return LimitedClient


def run(config: dict) -> dict:
    """Execute ``config["notebook"]`` in ``config["workdir"]``: ``{"report": ..., "notebook": ...}``."""
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.from_dict(config["notebook"])
    workdir = config["workdir"]
    client = make_client_class()(
        nb,
        output_limit=int(config["output_limit"]),
        timeout=int(config["cell_timeout"]) if config.get("cell_timeout") else None,
        kernel_name=config.get("kernel_name", "python3"),
        allow_errors=True,
        interrupt_on_timeout=True,
        error_on_timeout={"ename": "CellTimeoutError",
                          "evalue": f"the cell ran past the {config.get('cell_timeout')} s limit",
                          "traceback": []},
        skip_cells_with_tag=config["skip_tag"],  # a tag no submission knows: every cell runs
        shutdown_kernel="immediate",
        startup_timeout=int(config.get("startup_timeout", 60)),
        iopub_timeout=4,
        record_timing=False,
        resources={"metadata": {"path": workdir}},
    )
    report: dict = {"dead_kernel": None, "runner_error": None, "cells": len(nb.cells)}
    try:
        client.execute(cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except DeadKernelError:
        report["dead_kernel"] = client.current_cell
    except CellTimeoutError as error:
        report["runner_error"] = _short(f"CellTimeoutError: {error}")
    except Exception as error:  # kernel failed to start, and the like
        report["runner_error"] = _short(f"{type(error).__name__}: {error}")
    report.update(errors=client.errors, timeouts=client.timeouts, flooded_cells=client.flooded_cells,
                  output_bytes=client.output_bytes, last_cell=client.current_cell)
    return {"report": report, "notebook": nb}


def main(argv: list[str] | None = None) -> int:
    """The runner's entry point: one run, configured on stdin, reported on stdout."""
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--probe"]:
        import nbclient  # noqa: F401 (what a run needs, checked before any submission runs)
        import nbformat  # noqa: F401

        print("runner ok")
        return 0
    config = json.loads(sys.stdin.read())
    set_limits(config)
    become_subreaper()
    try:
        result = run(config)
    finally:
        end_descendants()
    sys.stdout.write(json.dumps(result, default=str))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
