"""The grader's export, in the kernel: each answer converted and encoded on its own.

Whatever one answer does while it is converted (contain itself, raise from its own methods,
exit the interpreter), the others are exported and the file is valid JSON.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from course_utils.jsonable import MAX_DEPTH, NotJsonable, answers_json, to_jsonable, write_answers


class RaisesWhenIterated(list):
    def __iter__(self):
        raise RuntimeError("no iterating over me")


class ExitsWhenIterated(list):
    def __iter__(self):
        raise SystemExit(3)


class UnprintableError(Exception):
    def __str__(self):
        raise ValueError("no message either")


class RaisesUnprintable(dict):
    def items(self):
        raise UnprintableError()


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def loop() -> list:
    value: list = [1]
    value.append(value)
    return value


@pytest.mark.parametrize("value, words", [
    (loop(), "contains itself"),
    (RaisesWhenIterated([1]), "RuntimeError: no iterating over me"),
    (RaisesUnprintable(a=1), "UnprintableError: (its message could not be read)"),
    (nested(MAX_DEPTH + 5), f"more than {MAX_DEPTH} levels"),
    (nested(50_000), "levels"),
    (10 ** 5000, "more than 4,000 digits"),
    (object(), "is a object"),
], ids=["loop", "raising-iter", "unprintable-error", "too-deep", "very-deep", "huge-int", "object"])
def test_a_value_that_cannot_be_converted_raises_one_clear_type_error(value, words):
    with pytest.raises(NotJsonable, match="`answer`") as caught:
        to_jsonable(value, name="answer")
    assert words in str(caught.value)
    assert isinstance(caught.value, TypeError)  # what BoundQuestion.check and export_answers catch


def test_one_odd_answer_loses_only_itself(tmp_path):
    namespace = {"total": 4, "squares": loop(), "n_rows": np.int64(3), "reason": ExitsWhenIterated(),
                 "ratio": float("nan")}
    path = tmp_path / "answers.json"
    write_answers(namespace, ["total", "squares", "n_rows", "reason", "ratio", "unset"], path)
    values = json.loads(path.read_text())
    assert {k: values[k] for k in ("total", "squares", "n_rows", "reason", "ratio", "unset")} == {
        "total": 4, "squares": None, "n_rows": 3, "reason": None, "ratio": None, "unset": None}
    assert set(values["_errors"]) == {"squares", "reason"}
    assert "contains itself" in values["_errors"]["squares"]
    assert "SystemExit" in values["_errors"]["reason"]


def test_shared_values_are_not_mistaken_for_loops():
    shared = [1, 2]
    assert to_jsonable({"a": shared, "b": [shared, shared]}) == {"a": [1, 2], "b": [[1, 2], [1, 2]]}
    assert json.loads(answers_json({"x": (shared, {3})}, ["x"])) == {"x": [[1, 2], [3]]}
