"""Helpers for the fine-tuning course: one import gives a lesson everything it needs.

>>> import course_utils
>>> cfg = course_utils.setup(profile="smoke", verbose=False)
>>> cfg.profile
'smoke'

Modules, one concern each: ``profiles`` (smoke / cpu / gpu and :func:`setup`), ``models``
(where models live, loading them), ``corpus`` (offline general text and domain prose),
``forgetting`` (perplexity, masked-LM loss), ``results`` (recorded numbers rendered into prose),
``tiny_models`` (building and checking the bundled tiny models), ``colab`` (the setup cell).
"""

from course_utils.profiles import PROFILES, CourseConfig, setup
from course_utils.results import Results

__version__ = "0.1.0"
__all__ = ["PROFILES", "CourseConfig", "Results", "setup", "__version__"]
