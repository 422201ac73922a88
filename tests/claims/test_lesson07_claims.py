"""Lesson 07's claims, asserted on the results of this test run's one execution of the notebook:
every rule has a row with a computed verdict, enough of them were checkable, gradient accumulation
gave the large batch's update once the loss was divided, and checkpointing saved memory."""

from lesson_results import recorded as recorded_lesson

from course_utils import cheatsheet


def recorded() -> dict:
    return recorded_lesson("07_best_practices")


def test_07_every_rule_has_a_row_and_enough_were_checked():
    v = recorded()
    assert v["rules_total"] == len(v["checks"]) == len(cheatsheet.RULES) >= 13
    assert v["rules_checked"] == sum(c["verdict"] != cheatsheet.NOT_TESTABLE for c in v["checks"]) >= 8
    assert v["rules_inconclusive"] == sum(c["verdict"] == cheatsheet.INCONCLUSIVE for c in v["checks"])
    assert all(c["verdict"] in cheatsheet.VERDICTS for c in v["checks"])


def test_07_the_verdicts_are_what_the_recorded_numbers_give():
    v = recorded()
    values, _, _ = cheatsheet.load_results(v["source_folder"])  # what the lesson read
    own = {"accumulation_max_abs_diff": v["accumulation_max_abs_diff"], "stopping": v["stopping"],
           "too_low_rate": v["too_low_rate"], "accumulation_naive_max_abs_diff": v["accumulation_naive_max_abs_diff"]}
    assert [c.verdict for c in cheatsheet.check_rules(values, own)] == [c["verdict"] for c in v["checks"]]


def test_07_accumulation_is_the_same_update_and_checkpointing_saves_memory():
    v = recorded()
    assert v["accumulation_max_abs_diff"] < 1e-5
    assert v["accumulation_naive_max_abs_diff"] > 100 * v["accumulation_max_abs_diff"]
    assert v["checkpointing_saved_mb"] > 0
