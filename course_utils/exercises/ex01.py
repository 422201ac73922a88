"""Exercise 01: audit the vendor's raw delivery (lesson 01).

Every answer is recomputed here from the bundled data, so the notebook's check and the grader
agree whatever profile the learner ran.
"""

from __future__ import annotations

from functools import lru_cache

from course_utils.exercises import checks
from course_utils.exercises.core import Question, QuestionSet, Wrong

# ----------------------------------------------------------------------------- q1


def _unusable_parts() -> dict[str, int]:
    from course_utils.audit import is_missing

    raw = checks.raw_frame()
    missing_text = raw["text"].map(is_missing)
    empty = ~missing_text & raw["text"].map(lambda t: not is_missing(t) and not t.strip())
    missing_label = raw["label"].map(is_missing)
    return {"missing texts": int(missing_text.sum()), "empty texts": int(empty.sum()),
            "missing labels": int(missing_label.sum()),
            "all": int((missing_text | empty | missing_label).sum())}


def check_unusable(values, workdir):
    given = checks.number(values["n_unusable"], "n_unusable", whole=True, low=0)
    parts = _unusable_parts()
    expected = parts.pop("all")
    if given == expected:
        return None
    kinds = list(parts)
    for size in (1, 2):
        for chosen in _combinations(kinds, size):
            if given == sum(parts[k] for k in chosen):
                left_out = [k for k in kinds if k not in chosen]
                raise Wrong(f"n_unusable is {given}: you counted the {' and '.join(chosen)} only. "
                            f"Rows with {' or '.join(left_out)} teach nothing either: count them too.")
    if given < expected:
        raise Wrong(f"n_unusable is {given}, too few. Count rows whose text is missing (None), whose "
                    "text is empty or only spaces, or whose label is missing.")
    raise Wrong(f"n_unusable is {given}, too many. A row with two faults counts once, and a text "
                "with words in it is not empty.")


def _combinations(items, size):
    from itertools import combinations

    return combinations(items, size)


# ----------------------------------------------------------------------------- q2

CUT_AT = 64


@lru_cache(maxsize=None)
def _train_lengths() -> dict:
    """For each tokenizer: lengths with and without special tokens; plus words."""
    frame = checks.domain_frame()
    texts = frame.loc[frame["split"] == "train", "text"].tolist()
    out = {}
    for name, tokenizer in checks.tokenizers().items():
        out[name] = {
            "tokens": [len(ids) for ids in tokenizer(texts, verbose=False)["input_ids"]],
            "tokens without [CLS] and [SEP]": [len(ids) for ids in tokenizer(
                texts, add_special_tokens=False, verbose=False)["input_ids"]],
        }
    out["words"] = {"words": [len(t.split()) for t in texts]}
    return out


def check_lengths(values, workdir):
    longest = checks.number(values["longest_tokens"], "longest_tokens", whole=True, low=1)
    n_cut = checks.number(values["n_cut_at_64"], "n_cut_at_64", whole=True, low=0)
    measured = _train_lengths()
    for name, kinds in measured.items():
        lengths = kinds.get("tokens")
        if lengths is None:
            continue
        if longest == max(lengths):
            if n_cut == sum(n > CUT_AT for n in lengths):
                return None
            if n_cut == sum(n >= CUT_AT for n in lengths):
                raise Wrong(f"n_cut_at_64 is {n_cut}: a text of exactly {CUT_AT} tokens fits; count "
                            f"only those longer than {CUT_AT}.")
            raise Wrong(f"longest_tokens is right, but n_cut_at_64 is {n_cut}: count the training "
                        f"texts longer than {CUT_AT} tokens.")
    for name, kinds in measured.items():
        for kind, lengths in kinds.items():
            if kind != "tokens" and longest == max(lengths):
                hint = ("[CLS] and [SEP] are part of what the model reads: keep add_special_tokens "
                        "at its default" if "without" in kind else
                        "the model reads tokens, not words: measure with tokenizer(text)['input_ids']")
                raise Wrong(f"longest_tokens is {longest}, which is the longest in {kind}; {hint}.")
    reference = next(iter(measured.values()))["tokens"]
    raise Wrong(f"longest_tokens is {longest}; with the bundled tokenizer the longest clean training "
                f"text has {max(reference)} tokens. Measure the texts with split == 'train' only.")


# ----------------------------------------------------------------------------- q3


@lru_cache(maxsize=None)
def _dedup_reference() -> dict:
    from course_utils import cleaning
    from course_utils.audit import normalize_text

    usable = cleaning.drop_unusable(checks.raw_frame())
    kept = cleaning.deduplicate(usable)
    dropped = sorted(set(usable["id"]) - set(kept["id"]))
    exact_dropped = sorted(set(usable["id"]) - set(usable.sort_values("id")
                                                     .drop_duplicates("text")["id"]))
    keys = usable["text"].map(normalize_text)
    singles = usable[~keys.duplicated(keep=False)]["id"].tolist()
    groups = usable.assign(key=keys)[keys.duplicated(keep=False)].groupby("key")["id"]
    lowest_dropped = sorted(set(usable["id"]) - set(singles) - set(groups.max()))
    return {"dropped": dropped, "exact": exact_dropped, "wrong_copy": lowest_dropped}


def check_dropped(values, workdir):
    given = checks.id_list(values["dropped_ids"], "dropped_ids")
    ref = _dedup_reference()
    if sorted(given) == ref["dropped"]:
        return None
    if sorted(given) == ref["exact"]:
        near = sorted(set(ref["dropped"]) - set(ref["exact"]))
        raise Wrong(f"you removed exact copies only. {len(near)} near copies (the same text up to "
                    f"case, spacing and punctuation, e.g. {near[0]}) remain: compare "
                    "normalize_text(text) keys instead of the raw text.")
    if sorted(given) == ref["wrong_copy"]:
        raise Wrong("you removed the right groups but kept the wrong copy: keep the row with the "
                    "lowest id in each group and drop the others.")
    checks.compare_ids(given, ref["dropped"], "dropped_ids")


# ----------------------------------------------------------------------------- q4


@lru_cache(maxsize=None)
def _validation_leaks() -> dict:
    from course_utils import cleaning
    from course_utils.audit import normalize_text

    usable = cleaning.drop_unusable(checks.raw_frame())
    train = usable[usable["split"] == "train"]["text"]
    validation = usable[usable["split"] == "validation"]["text"]
    return {"normalised": int(validation.map(normalize_text).isin(set(train.map(normalize_text))).sum()),
            "exact": int(validation.isin(set(train)).sum())}


def check_validation_leaks(values, workdir):
    given = checks.number(values["n_validation_leaked"], "n_validation_leaked", whole=True, low=0)
    ref = _validation_leaks()
    if given == ref["normalised"]:
        return None
    if given == ref["exact"]:
        raise Wrong(f"n_validation_leaked is {given}: that counts exact copies only. A near copy "
                    "(other case, spacing or punctuation) leaks just as much: compare normalize_text keys.")
    raise Wrong(f"n_validation_leaked is {given}. Count the usable rows with split == 'validation' "
                "whose normalised text is also the normalised text of a usable 'train' row.")


# ----------------------------------------------------------------------------- q5


@lru_cache(maxsize=None)
def _class_weight_scores() -> dict:
    frame = checks.domain_frame()
    train, test = frame[frame["split"] == "train"], frame[frame["split"] == "test"]
    out = {}
    for key, weight in (("plain", None), ("balanced", "balanced")):
        pred = checks.tfidf_predictions(tuple(train["text"]), tuple(train["label"]), tuple(test["text"]),
                                        class_weight=weight)
        out[key] = checks.scores(test["label"], pred)
    return out


def check_class_weights(values, workdir):
    plain = checks.fraction(values["f1_plain"], "f1_plain")
    balanced = checks.fraction(values["f1_balanced"], "f1_balanced")
    ref = _class_weight_scores()
    want = (ref["plain"]["macro_f1"], ref["balanced"]["macro_f1"])
    tol = 1e-3
    if abs(plain - want[0]) <= tol and abs(balanced - want[1]) <= tol:
        return None
    if abs(plain - want[1]) <= tol and abs(balanced - want[0]) <= tol:
        raise Wrong("your two scores are swapped: f1_plain is the model without class weights.")
    if (abs(plain - ref["plain"]["accuracy"]) <= tol or abs(balanced - ref["balanced"]["accuracy"]) <= tol):
        raise Wrong("that is accuracy; the question asks for macro-F1: "
                    "f1_score(y_true, y_pred, average='macro').")
    raise Wrong(f"with the settings of the question (clean train split, TfidfVectorizer(sublinear_tf=True), "
                f"LogisticRegression(max_iter=2000), scored on the clean test split) macro-F1 is "
                f"{want[0]:.3f} without and {want[1]:.3f} with class weights; you have {plain:.3f} and "
                f"{balanced:.3f}. Check the settings and the splits.")


# Raise when a question changes what it asks, its variables or its check: notebooks record the
# version they were made for, and the grader warns about a submission made for another one.
VERSION = 1

QUESTIONS = QuestionSet("ex01", "Exercise 01 · Audit a vendor's delivery", [
    Question(
        "q1", "How many raw rows are unusable (text missing, text empty or blank, or label missing)? "
              "Set `n_unusable`.",
        ("n_unusable",), check_unusable,
        hints=("Build one True/False mask per fault and combine them with `|`, so a row with two "
               "faults counts once.",
               "`is_missing(t) or not t.strip()` catches missing and blank texts; "
               "`raw['label'].map(is_missing)` the missing labels.")),
    Question(
        "q2", "Measure the clean training texts in tokens (special tokens included). Set `longest_tokens` "
              "and `n_cut_at_64` (how many texts max_length=64 would truncate).",
        ("longest_tokens", "n_cut_at_64"), check_lengths,
        hints=("`len(tokenizer(text)['input_ids'])` is a text's length as the model sees it.",
               "Truncation cuts the texts *longer* than max_length.")),
    Question(
        "q3", "Among the usable raw rows, which ids does deduplication on normalised text drop "
              "(keeping the lowest id of each group)? Set `dropped_ids` to a sorted list.",
        ("dropped_ids",), check_dropped,
        hints=("Sort the usable rows by id, then `.duplicated()` on `normalize_text(text)` marks every "
               "copy after the first.",)),
    Question(
        "q4", "How many usable rows of the vendor's validation split have a normalised copy in its "
              "training split? Set `n_validation_leaked`.",
        ("n_validation_leaked",), check_validation_leaks,
        hints=("Make the set of normalised training texts, then test each validation text's key with `.isin`.",)),
    Question(
        "q5", "Train the TF-IDF baseline on the clean training split without and with "
              "class_weight='balanced'; set `f1_plain` and `f1_balanced` (test macro-F1).",
        ("f1_plain", "f1_balanced"), check_class_weights,
        hints=("`make_pipeline(TfidfVectorizer(sublinear_tf=True), LogisticRegression(max_iter=2000, "
               "class_weight=...))`, fitted on the train rows' text and label.",
               "`f1_score(test['label'], model.predict(test['text']), average='macro')`.")),
], version=VERSION)

bind = QUESTIONS.bind
