"""Challenge 3 (level 3): write an instruction dataset, tune the course's GPT-2 on it, rate its answers.

What can be verified is: the dataset file the notebook wrote next to itself (size, fields, its own
records rather than the course's, no test prompt among them), the masking of its first example
(re-encoded here with ``course_utils.instruct`` and the bundled tokenizer, or ``gpt2``'s when it is
on this machine), the number of records dropped, that training lowered the loss, and that the
ratings table is complete and its average right. The ratings and the comment on quality are for
the instructor to read.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache

from course_utils.exercises import checks, lm_checks
from course_utils.exercises.core import Question, QuestionSet, Wrong

NO_SOLUTION = ("A graded challenge shows no solution: the hints and lesson 05 have what you need, and "
               "your instructor shares a solution after the deadline.")

DATASET_FILE = "my_instructions.jsonl"
MIN_EXAMPLES, N_TEST = 50, 10
FIELDS = ("instruction", "input", "output")


def prompt_key(instruction: str, input: str = "") -> str:
    """What makes two prompts the same: their words, lowercased, without punctuation or spacing.

    >>> prompt_key("Convert  the date.", "3 May 2020") == prompt_key("convert the date", "3 May, 2020")
    True
    """
    words = re.findall(r"\w+", f"{instruction} {input or ''}".lower())
    return " ".join(words)


def read_dataset(workdir) -> list[dict]:
    """The records of ``DATASET_FILE`` in ``workdir``, or :class:`Wrong` naming the first bad line."""
    path = workdir / DATASET_FILE
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise Wrong(f"{DATASET_FILE}, line {number}, is not JSON: write one record per line with "
                        "json.dumps(record).") from None
        if not isinstance(row, dict):
            raise Wrong(f"{DATASET_FILE}, line {number}, is not a record ({{'instruction': ..., 'input': ..., "
                        "'output': ...}}).")
        missing = [f for f in FIELDS if f not in row]
        if missing:
            raise Wrong(f"{DATASET_FILE}, line {number}, lacks {missing}; every record has instruction, input "
                        "(the empty string when there is none) and output.")
        for field in FIELDS:
            if not isinstance(row[field], str):
                raise Wrong(f"{DATASET_FILE}, line {number}: {field} is a {type(row[field]).__name__}; "
                            "it should be text.")
        for field in ("instruction", "output"):
            if not row[field].strip():
                raise Wrong(f"{DATASET_FILE}, line {number}: the {field} is empty.")
        rows.append(row)
    if not rows:
        raise Wrong(f"{DATASET_FILE} is empty.")
    return rows


@lru_cache(maxsize=None)
def bundled_keys() -> dict:
    """The course's own instruction records by prompt key: ``{key: id}``."""
    from course_utils import data

    frame = data.load_instructions()
    return {prompt_key(r.instruction, r.input): r.id for r in frame.itertuples()}


# ----------------------------------------------------------------------------- q1


def check_dataset(values, workdir):
    rows = read_dataset(workdir)
    n = checks.number(values["n_examples"], "n_examples", whole=True, low=0)
    checks.text(values["task_description"], "task_description", min_words=5)
    if n != len(rows):
        raise Wrong(f"n_examples is {n}, but {DATASET_FILE} holds {len(rows)} records.")
    if len(rows) < MIN_EXAMPLES:
        raise Wrong(f"{DATASET_FILE} holds {len(rows)} records; write at least {MIN_EXAMPLES}.")
    keys = [prompt_key(r["instruction"], r["input"]) for r in rows]
    distinct = len(set(keys))
    if distinct < MIN_EXAMPLES:
        raise Wrong(f"only {distinct} of your {len(rows)} records have different prompts (instruction + input); "
                    f"write at least {MIN_EXAMPLES} different ones: a repeated prompt teaches nothing new.")
    copied = [bundled_keys()[k] for k in keys if k in bundled_keys()]
    if copied:
        raise Wrong(f"{len(copied)} of your records repeat the course's bundled records (e.g. {copied[0]}); "
                    "the dataset must be your own.")
    if len({r["output"].strip() for r in rows}) == 1:
        raise Wrong("every record has the same output: the model would learn to give one answer whatever it is asked.")
    return f"{len(rows)} records, {distinct} different prompts."


# ----------------------------------------------------------------------------- q2


def _prompts(value, name: str) -> list[tuple[str, str]]:
    """``[(instruction, input)]`` from a list of dicts or a DataFrame with those columns."""
    if isinstance(value, dict) and set(value) == {"columns", "rows"}:
        value = [dict(zip(value["columns"], row)) for row in value["rows"]]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise Wrong(f"`{name}` should be a list of records such as {{'instruction': ..., 'input': ...}} "
                    "(or a DataFrame with those columns).")
    out = []
    for k, row in enumerate(value):
        instruction, given = row.get("instruction"), row.get("input", "") or ""
        if not isinstance(instruction, str) or not instruction.strip():
            raise Wrong(f"`{name}`, item {k}, has no instruction.")
        if not isinstance(given, str):
            raise Wrong(f"`{name}`, item {k}: the input should be text (or empty).")
        out.append((instruction, given))
    return out


def check_test_prompts(values, workdir):
    prompts = _prompts(values["test_prompts"], "test_prompts")
    if len(prompts) != N_TEST:
        raise Wrong(f"test_prompts has {len(prompts)} prompts; the challenge asks for {N_TEST}.")
    keys = [prompt_key(*p) for p in prompts]
    if len(set(keys)) != len(keys):
        raise Wrong("some test prompts repeat each other: write 10 different ones.")
    training = {prompt_key(r["instruction"], r["input"]) for r in read_dataset(workdir)}
    seen = [k for k, key in enumerate(keys) if key in training]
    if seen:
        instruction, given = prompts[seen[0]]
        raise Wrong(f"{len(seen)} test prompt(s) are also in {DATASET_FILE} (e.g. item {seen[0]}: "
                    f"{instruction[:50]!r} {given[:30]!r}); a test prompt must be new to the model.")
    return None


# ----------------------------------------------------------------------------- q3


def check_encoding(values, workdir):
    from course_utils.instruct import encode_records, format_prompt

    rows = read_dataset(workdir)
    max_length = checks.number(values["max_length"], "max_length", whole=True, low=8, high=1024)
    n_dropped = checks.number(values["n_dropped"], "n_dropped", whole=True, low=0)
    given = checks.int_list(values["first_labels"], "first_labels")
    first = rows[0]
    tokenizers = lm_checks.causal_tokenizers()
    parts = {}
    for name, tokenizer in tokenizers.items():
        prompt = tokenizer(format_prompt(first["instruction"], first["input"]), add_special_tokens=False)["input_ids"]
        response = tokenizer(first["output"], add_special_tokens=False)["input_ids"]
        parts[name] = (tokenizer, prompt, response)
    # the tokenizer the learner used: the one whose length or EOS the labels match, else the bundled one
    name = next((n for n, (t, p, r) in parts.items() if len(given) == len(p) + len(r) + 1 or t.eos_token_id in given),
                lm_checks.CAUSAL_LMS[0])
    tokenizer, prompt, response = parts[name]
    if len(prompt) + len(response) + 1 > max_length:
        raise Wrong(f"the first record of {DATASET_FILE} does not fit in max_length={max_length} "
                    f"({len(prompt) + len(response) + 1} tokens with EOS): raise max_length or shorten it.")
    lm_checks.instruction_labels(given, "first_labels", prompt_ids=prompt, response_ids=response,
                              eos_id=tokenizer.eos_token_id)
    dropped = len(encode_records(rows, tokenizer, max_length).dropped)
    if n_dropped != dropped:
        raise Wrong(f"n_dropped is {n_dropped}; at max_length={max_length}, encode_records drops {dropped} of "
                    f"your {len(rows)} records.")
    if len(rows) - dropped < MIN_EXAMPLES:
        raise Wrong(f"only {len(rows) - dropped} of your records fit in max_length={max_length}; train on at "
                    f"least {MIN_EXAMPLES}: raise max_length (the model's context allows more) or shorten them.")
    return None


# ----------------------------------------------------------------------------- q4


def _responses(value, name: str = "responses") -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Wrong(f"`{name}` should be the list of the model's answers (strings), one per test prompt.")
    return value


def check_training(values, workdir):
    history = values["loss_history"]
    if not isinstance(history, list) or len(history) < 2:
        raise Wrong("loss_history should be the list of training losses logged during training (at least two), "
                    "e.g. [log['loss'] for log in trainer.state.log_history if 'loss' in log].")
    losses = [checks.number(v, "loss_history") for v in history]
    if not all(math.isfinite(v) and v >= 0 for v in losses):
        raise Wrong("loss_history holds a negative or infinite loss: check that every example has a trained response.")
    if losses[-1] >= losses[0]:
        raise Wrong(f"the training loss did not fall ({losses[0]:.3f} first, {losses[-1]:.3f} last): start from lesson "
                    "05's recipe for your model, `recipes.instruction_recipe(cfg)` (the tiny model needs a far higher "
                    "rate and more epochs than GPT-2), and check that every example has a trained response.")
    prompts = _prompts(values["test_prompts"], "test_prompts")
    responses = _responses(values["responses"])
    if len(responses) != len(prompts):
        raise Wrong(f"responses has {len(responses)} answers for {len(prompts)} test prompts.")
    if not any(r.strip() for r in responses):
        raise Wrong("every response is empty: generate with max_new_tokens large enough for an answer, from "
                    "format_prompt(instruction, input).")
    return f"loss {losses[0]:.3f} to {losses[-1]:.3f}."


# ----------------------------------------------------------------------------- q5


def check_ratings(values, workdir):
    frame = checks.table(values["ratings"], "ratings", ("instruction", "response", "rating"))
    responses = _responses(values["responses"])
    if len(frame) != N_TEST:
        raise Wrong(f"ratings has {len(frame)} rows; rate each of the {N_TEST} test responses once.")
    scores = []
    for k, value in enumerate(frame["rating"]):
        if value is None or value == "":
            raise Wrong(f"row {k} of ratings has no rating yet.")
        score = checks.number(value, f"rating of row {k}", whole=True)
        if not 1 <= score <= 5:
            raise Wrong(f"row {k} is rated {score}; use a whole number from 1 to 5.")
        scores.append(score)
    if [str(r) for r in frame["response"]] != [str(r) for r in responses]:
        raise Wrong("the responses in ratings are not those in `responses`, in the same order: rate the answers "
                    "the model gave.")
    average = checks.number(values["average_rating"], "average_rating", low=1, high=5)
    want = sum(scores) / len(scores)
    if abs(average - want) > 0.01:
        raise Wrong(f"average_rating is {average:.2f}, but the ratings in the table average {want:.2f}.")
    return f"average {want:.2f} out of 5."


# ----------------------------------------------------------------------------- q6


def check_comment(values, workdir):
    answer = checks.text(values["quality_comment"], "quality_comment", min_words=40)
    missing = checks.missing_topics(answer, {
        "what the ratings show": r"rating|rated|score|average",
        "what in the dataset or the training explains them": r"data|example|record|template|training"})
    if missing:
        raise Wrong("quality_comment should say " + " and ".join(missing) + ".")
    return "written."


# Raise when a question changes what it asks, its variables or its check: notebooks record the
# version they were made for, and the grader warns about a submission made for another one.
VERSION = 1

QUESTIONS = QuestionSet("challenge3", "Challenge 3 · Your own instructions", [
    Question(
        "q1", f"Write at least {MIN_EXAMPLES} instruction records for one task to `{DATASET_FILE}` (one JSON object "
              "per line: instruction, input, output). Set `n_examples` and `task_description` (a sentence).",
        ("n_examples", "task_description"), check_dataset, files=(DATASET_FILE,),
        hints=("Generate them from a few instruction phrasings and varied inputs: a template and a loop.",
               "Write with `json.dumps(record)` per line; every record needs instruction, input (\"\" if none) "
               "and output.")),
    Question(
        "q2", f"Set `test_prompts`: {N_TEST} new prompts for the same task (records with instruction and input), "
              f"none of them in `{DATASET_FILE}`.",
        ("test_prompts",), check_test_prompts, files=(DATASET_FILE,),
        hints=("Make them before you write the training file, and skip any generated prompt that is a test prompt.",)),
    Question(
        "q3", "Encode your records with `encode_records` at a `max_length` you choose. Set `max_length`, "
              "`n_dropped` and `first_labels` (the labels of your file's first record).",
        ("max_length", "n_dropped", "first_labels"), check_encoding, files=(DATASET_FILE,),
        hints=("`encode_records(records, tokenizer, max_length)`: `.examples[0]['labels']` if the first record fits, "
               "`.dropped` lists the others.",)),
    Question(
        "q4", "Instruction-tune a fresh model on your encoded records and answer the test prompts. Set "
              "`loss_history` (the logged training losses) and `responses` (one answer per test prompt).",
        ("loss_history", "test_prompts", "responses"), check_training, points=2,
        hints=("Lesson 05, section 5, trains exactly this way, and its recipe for your profile is "
               "`recipes.instruction_recipe(cfg)`: the learning rate and epochs chosen on its validation split.",
               "`instruction_tune(cfg, model, tokenizer, encoded.examples, learning_rate=..., epochs=..., output_dir=...)` "
               "returns the run (`.losses` holds the logged `(step, loss)` pairs); then `generate(model, tokenizer, "
               "[format_prompt(p['instruction'], p['input']) for p in test_prompts], max_new_tokens=...)`.")),
    Question(
        "q5", f"Rate each of the {N_TEST} responses from 1 (useless) to 5 (as good as you would write). Set `ratings` "
              "(a DataFrame: instruction, response, rating) and `average_rating`.",
        ("ratings", "average_rating", "responses"), check_ratings, points=2, auto=False,
        hints=("Write down what each score means before you read the answers.",)),
    Question(
        "q6", "How good is the tuned model at your task, and why? Set `quality_comment` (a paragraph: what the "
              "ratings show, and what in your data or training explains them).",
        ("quality_comment",), check_comment, points=2, auto=False,
        hints=("Which prompts did it get right, which wrong? Were they like your training records?",)),
], version=VERSION, solutions_withheld=NO_SOLUTION)

bind = QUESTIONS.bind
