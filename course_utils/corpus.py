"""Text the course can use offline: general text from CPython, domain prose, a probe task.

Every CPython install carries two kinds of English prose: the language reference topics in
``pydoc_data.topics`` and the docstrings of the standard library. The tiny models are
pretrained on them (plus the course's own unlabeled domain prose), and the *general text* on
which forgetting is measured is a held-out slice of the reference topics, selected at run time
by topic keys that every supported Python has. Nothing here is copied into the repository.

>>> from course_utils import corpus
>>> held_out = corpus.general_text("heldout")
>>> len(held_out) > 50, all(isinstance(p, str) for p in held_out)
(True, True)
"""

from __future__ import annotations

import ast
import functools
import re
import sysconfig
from importlib import resources
from pathlib import Path

# The domains of the unlabeled prose are the labels of the classification data.
from course_utils.data import LABELS as DOMAINS

# Reference topics kept out of pretraining; forgetting and the tiny-model gates are measured
# on them. All exist in pydoc_data.topics of Python 3.10 to 3.13.
HELD_OUT_TOPICS: tuple[str, ...] = (
    "naming",
    "import",
    "try",
    "calls",
    "assignment",
    "comparisons",
    "typesmapping",
)

# Standard-library package families whose docstrings form the encoder's probe task. Their
# docstrings never enter pretraining, so the probe is held out from the model entirely.
PROBE_FAMILIES: tuple[str, ...] = ("asyncio", "email", "unittest", "xml", "multiprocessing")

# Folders of the standard library that are tests, tools or GUI demos rather than library prose.
_SKIPPED_STDLIB_PARTS = frozenset(
    {"test", "tests", "idlelib", "lib2to3", "site-packages", "dist-packages", "turtledemo",
     "ensurepip", "tkinter", "__pycache__", "pydoc_data", "__phello__"}
)

_MIN_WORDS = 6


def normalize(text: str) -> str:
    """Collapse runs of whitespace to one space.

    >>> normalize("  a\\n   b\\tc ")
    'a b c'
    """
    return " ".join(text.split())


def _paragraphs(text: str) -> list[str]:
    parts = (normalize(p) for p in re.split(r"\n\s*\n", text))
    return [p for p in parts if len(p.split()) >= _MIN_WORDS]


@functools.lru_cache(maxsize=1)
def _topic_paragraphs() -> dict[str, list[str]]:
    from pydoc_data.topics import topics

    return {key: _paragraphs(topics[key]) for key in sorted(topics)}


def general_text(split: str = "heldout") -> list[str]:
    """Paragraphs of the Python language reference: ``"heldout"`` or ``"train"``.

    The held-out paragraphs come from :data:`HELD_OUT_TOPICS`; the training ones from every
    other topic, minus any paragraph that also appears in a held-out topic (some topics repeat
    others' sections), so the two never share a paragraph.

    >>> train, held = general_text("train"), general_text("heldout")
    >>> bool(set(train) & set(held))
    False
    """
    if split not in ("heldout", "train"):
        raise ValueError(f"split must be 'heldout' or 'train', got {split!r}.")
    paragraphs = _topic_paragraphs()
    missing = [k for k in HELD_OUT_TOPICS if k not in paragraphs]
    if missing:
        raise RuntimeError(
            f"This Python's pydoc_data.topics lacks the held-out topics {missing}; "
            "use Python 3.10 to 3.13, where they all exist."
        )
    held: list[str] = []
    for key in HELD_OUT_TOPICS:
        held.extend(p for p in paragraphs[key] if p not in held)
    if split == "heldout":
        return held
    held_set = set(held)
    seen: set[str] = set()
    train = []
    for key, paras in paragraphs.items():
        if key in HELD_OUT_TOPICS:
            continue
        for p in paras:
            if p not in held_set and p not in seen:
                seen.add(p)
                train.append(p)
    return train


def _stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


@functools.lru_cache(maxsize=1)
def _stdlib_docstrings() -> tuple[tuple[str, str], ...]:
    """(family, docstring) pairs, parsed with ``ast`` so that no module is imported."""
    root = _stdlib_root()
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(part in _SKIPPED_STDLIB_PARTS for part in rel.parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        family = rel.parts[0].removesuffix(".py")
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if not doc:
                    continue
                text = normalize(doc)
                if len(text.split()) >= _MIN_WORDS and text not in seen:
                    seen.add(text)
                    pairs.append((family, text))
    return tuple(pairs)


def stdlib_docstrings() -> list[str]:
    """Docstrings of the standard library, without those of :data:`PROBE_FAMILIES`.

    >>> docs = stdlib_docstrings()
    >>> len(docs) > 1000
    True
    """
    return [doc for family, doc in _stdlib_docstrings() if family not in PROBE_FAMILIES]


def probe_task() -> tuple[list[str], list[str]]:
    """Docstrings of the probe families and the family each comes from.

    >>> texts, families = probe_task()
    >>> sorted(set(families)) == sorted(PROBE_FAMILIES)
    True
    """
    pairs = [(doc, family) for family, doc in _stdlib_docstrings() if family in PROBE_FAMILIES]
    return [doc for doc, _ in pairs], [family for _, family in pairs]


def domain_prose(domain: str | None = None) -> list[str]:
    """The course's unlabeled domain paragraphs (written for the course), one domain or all.

    >>> len(domain_prose("legal")) >= 100
    True
    """
    if domain is not None and domain not in DOMAINS:
        raise ValueError(f"Unknown domain {domain!r}; choose one of {DOMAINS}.")
    chosen = DOMAINS if domain is None else (domain,)
    folder = resources.files("course_utils") / "data" / "pretrain_prose"
    out: list[str] = []
    for name in chosen:
        out.extend(_paragraphs(folder.joinpath(f"{name}.txt").read_text(encoding="utf-8")))
    return out


def pretraining_corpus(domain_repeats: int = 3) -> list[str]:
    """Paragraphs the tiny models are pretrained on, in a fixed order.

    The domain prose is small next to the Python text, so it is repeated ``domain_repeats``
    times: the models should know the domains' words the way Hub models do.
    """
    if domain_repeats < 0:
        raise ValueError("domain_repeats must be 0 or more.")
    return general_text("train") + stdlib_docstrings() + domain_prose() * domain_repeats
