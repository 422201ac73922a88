"""The package docstring's map names every module of ``course_utils``, and names nothing that is gone."""

import re
from pathlib import Path

import course_utils

PACKAGE = Path(course_utils.__file__).parent


def test_the_map_lists_every_module_and_no_missing_one():
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    modules |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    named = set(re.findall(r"``(\w+)``", course_utils.__doc__))
    assert modules - named == set(), "add these modules to the map in course_utils/__init__.py"
    assert {n for n in named if n.islower()} - modules == set(), "the map names modules that do not exist"
