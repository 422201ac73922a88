"""The recorded results of this test run's one execution of a lesson, for the claims tests.

``make test`` executes every notebook first, with ``COURSE_RESULTS_DIR`` pointing at
build/test-results, then runs tests/claims on what they recorded.
"""

import json
import os
from pathlib import Path

import pytest

TINY_MODELS = {"encoder": "tiny-distilbert (bundled, offline)", "causal_lm": "tiny-gpt2 (bundled, offline)"}
RESULTS = Path(os.environ.get("COURSE_RESULTS_DIR", Path(__file__).resolve().parents[2] / "build" / "test-results"))


def recorded(lesson: str) -> dict:
    """``{name: value}`` of a lesson's recorded results; the claims are about the smoke profile."""
    path = RESULTS / f"{lesson}.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: run the notebooks first (make test does, before these tests).")
    data = json.loads(path.read_text())
    assert data["profile"] == "smoke", "the claims are about the smoke profile's tiny models"
    # and about the results those models produced: a run with a learner's own model records elsewhere
    assert data.get("models") == TINY_MODELS, f"{path} was recorded with {data.get('models')}, not {TINY_MODELS}"
    assert data.get("own_models") == []
    return {k: v["value"] for k, v in data["values"].items()}
