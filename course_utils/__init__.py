"""Helpers for the fine-tuning course: one import gives a lesson everything it needs.

>>> import course_utils
>>> cfg = course_utils.setup(profile="smoke", verbose=False)
>>> cfg.profile
'smoke'

Modules, one concern each:

- setup and models: ``profiles`` (smoke / cpu / gpu and :func:`setup`), ``models`` (where the
  models live, loading them, parameter counts, device, eval mode), ``tiny_models`` (building and
  checking the bundled tiny models), ``colab`` (the setup cell every notebook starts with);
- data: ``data`` (the bundled data), ``corpus`` (offline general text and domain prose),
  ``audit`` and ``cleaning`` (lesson 01), ``leakage`` (what a test-set leak does to a score),
  ``user_data`` (a learner's own labelled data, from a CSV or the Hub, as three splits);
- training: ``training`` (the ``TrainingArguments`` presets, freezing, label checks),
  ``recipes`` (each classification method's recipe per profile), ``baselines`` (TF-IDF and
  feature-extraction baselines, their ``C`` chosen on validation), ``classifier`` (fine-tuning a
  classifier, the cached one of later lessons), ``lm`` (continued pretraining), ``instruct``
  (instruction formatting, masking, generation), ``lora`` (low-rank adapters with the peft library),
  ``train`` (lessons 02 and 05's recipes as scripts, on one process or many under torchrun/accelerate);
- measuring: ``evaluation`` (metrics, predictions by id, errors, calibration, plots), ``scoring``
  (generated answers: exact match, ROUGE-L, each task's judging rule, your ratings), ``advice``
  (next steps derived rule by rule from measured errors), ``stats`` (bootstrap intervals),
  ``forgetting`` (perplexity, masked-LM loss, replay, weight anchor), ``comparisons``
  (settings compared at matched learning, over seeds), ``results`` (recorded
  numbers rendered into prose), ``practice`` (lesson 07's measurements: gradient accumulation,
  checkpointing, stopping signals), ``cheatsheet`` (rules of thumb checked against the recorded
  results, and ``docs/cheatsheet.md``);
- exercises and grading: ``exercises`` (the questions bound into the practice notebooks),
  ``grade`` (the grader's command line), ``grading`` (the grader itself: limits, loading,
  integrity, processes, sandbox user, the runner of one submission, execution, read-back,
  answers a run saved in the notebook, gradebook);
- shared plumbing: ``validation`` (input checks with messages that name the fix), ``files``
  (atomic writes, careful reads), ``jsonable`` (plain JSON from a notebook's values).
"""

# The one place the version is typed: pyproject.toml reads it, colab.RELEASE is "v" + it, and a
# release is the tag of that name (docs/releasing.md).
__version__ = "0.1.0"
__all__ = ["PROFILES", "CourseConfig", "Results", "setup", "__version__"]

_LAZY = {"PROFILES": "profiles", "CourseConfig": "profiles", "setup": "profiles", "Results": "results"}


def __getattr__(name: str):
    # Imported on first use, so that `python -m course_utils.results` and friends start clean.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"course_utils.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'course_utils' has no attribute {name!r}")
