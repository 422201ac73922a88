"""Notebook hygiene: the shared setup cell and badge, the plain kernel, no committed outputs
except NBVAL_CHECK_OUTPUT cells, and none of the stale API the course warns about."""

import re
from pathlib import Path

import nbformat
import pytest

from course_utils import colab

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = colab.all_notebooks(ROOT)
STALE = {
    r"\bevaluation_strategy\s*=": "the old evaluation strategy argument (now eval_strategy)",
    r"\bwarmup_ratio\s*=": "a warmup ratio (give warmup_steps)",
    r"\blogging_dir\s*=": "a logging directory argument (removed)",
    r"\bgroup_by_length\s*=": "the group-by-length flag (use train_sampling_strategy)",
    r"\boverwrite_output_dir\s*=": "the overwrite-output-dir flag (removed)",
    r"Trainer\([^)]*\btokenizer\s*=": "a tokenizer passed to Trainer by its old name (use processing_class)",
    r"\bload_metric\(": "the removed datasets metric loader",
    r"evaluate\.load\(": "evaluate's loader (fetches a script from the Hub)",
    r"report_to\s*=\s*None": "report_to set to None (pass the string 'none')",
    r"\bgradient_checkpointing\s*=": "the gradient-checkpointing argument (now activation_checkpointing)",
    r"\.gradient_checkpointing_(enable|disable)\(": "the gradient-checkpointing methods (now activation_checkpointing_...)",
}


def test_there_are_lessons():
    assert (ROOT / "notebooks" / "00_setup_check.ipynb") in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_badge_and_kernel(path):
    assert colab.problems(path, ROOT) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_except_checked_cells(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "NBVAL_CHECK_OUTPUT" in cell.source:
            assert cell.outputs and cell.execution_count, "a checked cell keeps its output and count"
            text = "".join(o.get("text", "") for o in cell.outputs)
            assert "\r" not in text and "%|" not in text, "checked cells print no progress bars"
        else:
            assert not cell.outputs and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_has_a_parameters_cell_after_setup(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[1].metadata.get("tags", []), "second code cell: the parameters"
    assert "PROFILE" in code[1].source


def _sources():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        yield path, "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for path in sorted((ROOT / "course_utils").rglob("*.py")):
        yield path, path.read_text()


def test_no_stale_api():
    found = [f"{path.relative_to(ROOT)}: {what}" for path, text in _sources()
             for pattern, what in STALE.items() if re.search(pattern, text, flags=re.S)]
    assert found == []
