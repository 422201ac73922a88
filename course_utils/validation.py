"""Input checks shared by the helpers, so that bad input gets a message that names the fix."""

from __future__ import annotations

import math
from collections.abc import Sequence


def check_texts(texts: Sequence[str], name: str = "texts") -> None:
    """Raise a clear error unless ``texts`` is a non-empty sequence of non-empty strings.

    >>> check_texts(["a sentence"])
    >>> check_texts([])
    Traceback (most recent call last):
    ...
    ValueError: texts is empty: pass at least one text.
    """
    if isinstance(texts, str):
        raise TypeError(f"{name} must be a list of strings, not one string: wrap it as [{name}].")
    try:
        items = list(texts)
    except TypeError:
        raise TypeError(f"{name} must be a list of strings, got {type(texts).__name__}.") from None
    if not items:
        raise ValueError(f"{name} is empty: pass at least one text.")
    for i, text in enumerate(items):
        if text is None or (isinstance(text, float) and math.isnan(text)):
            raise ValueError(f"{name}[{i}] is missing (None or NaN): drop or fill missing texts first.")
        if not isinstance(text, str):
            raise TypeError(f"{name}[{i}] is a {type(text).__name__}, not a string: convert it with str().")
        if not text.strip():
            raise ValueError(f"{name}[{i}] is empty: drop empty texts first.")
