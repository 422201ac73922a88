"""Plain JSON values from what a notebook holds: one conversion for exercise answers and recorded results.

The learner's ``q1.check()``, the grader's export cell and :class:`course_utils.results.Results`
all go through :func:`to_jsonable`, so a value means the same thing everywhere.

>>> import numpy as np
>>> to_jsonable({"f1": np.float32(0.5), "ids": np.array([1, 2]), "gap": float("nan")})
{'f1': 0.5, 'ids': [1, 2], 'gap': None}

NaN and infinities are not JSON numbers. The rule, decided once here: they become ``None``
(an answer that is NaN reads as "not answered"), and ``finite=True`` refuses them instead,
for values that end up printed in prose (a recorded result):

>>> try:
...     to_jsonable([1.0, float("inf")], name="scores", finite=True)
... except NotFinite as error:
...     print(error)
`scores` holds inf: a recorded result must be a finite number; check for a division by zero or an empty mean.

Whatever goes wrong while converting a value is a :class:`NotJsonable` (a ``TypeError``) that
names the value, never a ``RecursionError`` or an exception from inside the value's own code:

>>> loop = [1, 4]
>>> loop.append(loop)
>>> try:  # doctest: +NORMALIZE_WHITESPACE
...     to_jsonable(loop, name="squares")
... except NotJsonable as error:
...     print(error)
`squares` contains itself (a list or dict inside itself), which JSON cannot hold: build a new list
instead of appending the list to itself.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

MAX_DEPTH = 100  # lists in lists this deep are a bug in an answer, not an answer
MAX_ITEMS = 5_000_000  # the grader reads at most 5 MB of answers: more values cannot fit anyway
MAX_INT_DIGITS = 4_000  # Python refuses to print longer integers (sys.int_info.default_max_str_digits)
_MAX_INT_BITS = int(MAX_INT_DIGITS * math.log2(10))


class NotJsonable(TypeError):
    """A value that cannot become JSON; the message names it and says what to do instead."""


class NotFinite(ValueError):
    """NaN or an infinity where a finite number is required (``to_jsonable(..., finite=True)``)."""


def _describe(error: BaseException) -> str:
    """``"ZeroDivisionError: boom"``, even when the exception's own ``__str__`` raises."""
    try:
        text = str(error)
    except Exception:  # a hostile exception: its message is not worth a crash
        text = "(its message could not be read)"
    text = text if len(text) <= 300 else text[:300] + "…"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class _Converter:
    """One conversion: remembers the containers on the current path (cycles) and counts values."""

    def __init__(self, name: str, finite: bool):
        self.name = name
        self.finite = finite
        self.items = 0
        self.open_containers: set[int] = set()

    def convert(self, value: Any, depth: int) -> Any:
        self.items += 1
        if self.items > MAX_ITEMS:
            raise NotJsonable(f"`{self.name}` holds more than {MAX_ITEMS:,} values: answers and results are "
                              "small (a number, a short list, a table), not datasets.")
        if value is None or value is True or value is False:
            return value
        # Exact built-in types, even for subclasses (NumPy's float64 is one): a subclass's own
        # methods never run again when the result is written out.
        if isinstance(value, str):
            return str.__str__(value)
        if isinstance(value, int):  # bool was handled above: it cannot be subclassed
            return self._integer(int.__int__(value))
        if isinstance(value, float):
            return self._float(float.__float__(value))
        # Library types are recognised only if their library is already imported: if it is not,
        # the value cannot be one of them, and converting never imports torch.
        np = sys.modules.get("numpy")
        if np is not None and isinstance(value, np.ndarray):
            return self.convert(value.tolist(), depth)
        if np is not None and isinstance(value, np.generic):
            return self.convert(value.item(), depth)
        pd = sys.modules.get("pandas")
        if pd is not None and isinstance(value, pd.DataFrame):
            return {"columns": [self._key(c) for c in value.columns],
                    "rows": self._container(value, depth,
                                            lambda: (list(row) for row in value.itertuples(index=False)))}
        if pd is not None and isinstance(value, pd.Series):
            return self.convert(value.tolist(), depth)
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(value, torch.Tensor):
            return self.convert(value.detach().cpu().tolist(), depth)  # tolist: bfloat16 too
        if isinstance(value, (list, tuple)):
            return self._container(value, depth, lambda: value)
        if isinstance(value, (set, frozenset)):
            return self._container(value, depth, lambda: sorted(value, key=repr))  # a stable order
        if isinstance(value, dict):
            return self._container(value, depth, lambda: value.items(), mapping=True)
        raise NotJsonable(f"`{self.name}` is a {type(value).__name__}: it must be made of numbers, text, "
                          "booleans, None, lists, dicts, arrays or DataFrames (convert it first, for "
                          "example with float(x), x.tolist() or str(x)).")

    def _container(self, value: Any, depth: int, items, mapping: bool = False) -> Any:
        if id(value) in self.open_containers:
            raise NotJsonable(f"`{self.name}` contains itself (a list or dict inside itself), which JSON cannot "
                              "hold: build a new list instead of appending the list to itself.")
        if depth >= MAX_DEPTH:
            raise NotJsonable(f"`{self.name}` is nested more than {MAX_DEPTH} levels deep: flatten it.")
        self.open_containers.add(id(value))
        try:
            if mapping:
                return {self._key(k): self.convert(v, depth + 1) for k, v in items()}
            return [self.convert(v, depth + 1) for v in items()]
        finally:
            self.open_containers.discard(id(value))

    def _key(self, key: Any) -> str:
        return str.__str__(key) if isinstance(key, str) else str(key)

    def _integer(self, number: int) -> int:
        if number.bit_length() > _MAX_INT_BITS:
            raise NotJsonable(f"`{self.name}` holds an integer with more than {MAX_INT_DIGITS:,} digits, "
                              "longer than a JSON number may be: store it as text with str(x).")
        return number

    def _float(self, number: float) -> float | None:
        if math.isfinite(number):
            return number
        if self.finite:
            raise NotFinite(f"`{self.name}` holds {number}: a recorded result must be a finite number; "
                            "check for a division by zero or an empty mean.")
        return None


def to_jsonable(value: Any, *, name: str = "value", finite: bool = False) -> Any:
    """``value`` as plain JSON types: how the notebook's check, the grader and the results see it.

    Numbers (NumPy's and torch's too) become ``int`` or ``float``; arrays, tensors, Series,
    tuples and sets (sorted) become lists; a DataFrame becomes ``{"columns": [...], "rows":
    [[...], ...]}``; dict keys become text. NaN and infinities become ``None``, or with
    ``finite=True`` raise :class:`NotFinite`. Anything else, and any failure while converting
    (a value that contains itself, a value whose own methods raise), raises :class:`NotJsonable`
    naming ``name``.

    >>> to_jsonable((1, {2: "two"}), name="pair")
    [1, {'2': 'two'}]
    >>> try:
    ...     to_jsonable(object(), name="model")
    ... except NotJsonable as error:  # a TypeError, which is what a notebook's q1.check() catches
    ...     print(str(error)[:60])
    `model` is a object: it must be made of numbers, text, boole
    """
    try:
        return _Converter(name, finite).convert(value, 0)
    except (NotJsonable, NotFinite):
        raise
    except RecursionError:
        raise NotJsonable(f"`{name}` is nested too deeply to convert: flatten it.") from None
    except Exception as error:  # the value's own code raised (a hostile __iter__, a broken __repr__)
        raise NotJsonable(f"`{name}` could not be converted to JSON: converting it raised {_describe(error)}. "
                          "Store plain numbers, text, lists or dicts in it.") from error


def answers_json(namespace: Mapping[str, Any], variables: Iterable[str]) -> str:
    """The JSON object the grader reads: each variable converted and encoded on its own.

    A variable that fails (whatever it raises) is exported as ``None`` with its reason under
    ``"_errors"``, so one odd answer never loses the others.

    >>> loop = []
    >>> loop.append(loop)
    >>> json.loads(answers_json({"total": 4, "squares": loop}, ["total", "squares", "reason"]))["total"]
    4
    >>> json.loads(answers_json({"total": 4, "squares": loop}, ["total", "squares"]))["_errors"]["squares"][:25]
    '`squares` contains itself'
    """
    parts: list[str] = []
    errors: dict[str, str] = {}
    for variable in variables:
        variable = str(variable)
        try:
            encoded = json.dumps(to_jsonable(namespace.get(variable), name=variable), allow_nan=False)
        except BaseException as error:  # noqa: BLE001 - SystemExit or an interrupt in one answer loses only it
            errors[variable] = str(error) if isinstance(error, NotJsonable) else (
                f"`{variable}` could not be exported: {_describe(error)}")
            encoded = "null"
        parts.append(f"{json.dumps(variable)}: {encoded}")
    if errors:
        parts.append(f'"_errors": {json.dumps(errors)}')
    return "{" + ", ".join(parts) + "}"


def write_answers(namespace: Mapping[str, Any], variables: Iterable[str], path: str | Path) -> None:
    """Write :func:`answers_json` to ``path`` (the grader's export cell calls this in the kernel)."""
    Path(path).write_text(answers_json(namespace, variables), encoding="utf-8")
