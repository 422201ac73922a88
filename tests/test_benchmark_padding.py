"""The padding benchmark runs, and its token counts (deterministic, unlike its times) show the
course's recipe processing fewer tokens with less padding than padding everything to 256."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import benchmark_padding  # noqa: E402

from course_utils import models  # noqa: E402


def test_course_recipe_processes_fewer_tokens_with_less_padding():
    common = benchmark_padding.run("common", models.TINY_GPT2, epochs=1, batch_size=16)
    course = benchmark_padding.run("course", models.TINY_GPT2, epochs=1, batch_size=16)
    assert common["padding_share"] > 0.4 and course["padding_share"] < common["padding_share"] / 2
    # The goal is 2x fewer tokens; on the bundled records the course's recipe processes
    # 1.9986x fewer (EOS adds one token per example), reported as such in the README.
    assert common["tokens_per_epoch"] / course["tokens_per_epoch"] > 1.99
    assert common["tokens_per_epoch"] % 256 == 0  # every row padded to max_length
