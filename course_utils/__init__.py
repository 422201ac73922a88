"""Helpers for the fine-tuning course: one import gives a lesson everything it needs.

>>> import course_utils
>>> cfg = course_utils.setup(profile="smoke", verbose=False)
>>> cfg.profile
'smoke'

Modules, one concern each: ``profiles`` (smoke / cpu / gpu and :func:`setup`), ``models``
(where models live, loading them), ``data`` (the bundled data), ``audit`` and ``cleaning``
(lesson 01), ``training``, ``classifier`` and ``evaluation`` (lessons 02 and 03), ``stats``
(bootstrap intervals), ``forgetting`` (perplexity, masked-LM loss, replay, weight anchor),
``instruct`` (instruction formatting and masking), ``corpus`` (offline general text and domain
prose), ``results`` (recorded numbers rendered into prose), ``tiny_models`` (building and
checking the bundled tiny models), ``colab`` (the setup cell).
"""

__version__ = "0.1.0"
__all__ = ["PROFILES", "CourseConfig", "Results", "setup", "__version__"]

_LAZY = {"PROFILES": "profiles", "CourseConfig": "profiles", "setup": "profiles", "Results": "results"}


def __getattr__(name: str):
    # Imported on first use, so that `python -m course_utils.results` and friends start clean.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"course_utils.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'course_utils' has no attribute {name!r}")
