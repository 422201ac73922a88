from collections import Counter

import pytest

from course_utils import corpus, data


def test_general_text_split_is_disjoint_and_nonempty():
    held, train = corpus.general_text("heldout"), corpus.general_text("train")
    assert len(held) > 100 and len(train) > 500
    assert not set(held) & set(train)
    # no held-out paragraph hides inside a longer training paragraph either
    train_blob = "\n".join(train)
    inside = [p for p in held if len(p) > 80 and p in train_blob]
    assert inside == []


def test_general_text_bad_split():
    with pytest.raises(ValueError, match="heldout"):
        corpus.general_text("test")


def test_probe_families_never_reach_pretraining():
    texts, families = corpus.probe_task()
    counts = Counter(families)
    assert set(counts) == set(corpus.PROBE_FAMILIES) and min(counts.values()) >= 100
    assert not set(texts) & set(corpus.pretraining_corpus())


@pytest.mark.parametrize("domain", corpus.DOMAINS)
def test_domain_prose(domain):
    paras = corpus.domain_prose(domain)
    assert len(paras) >= 100, "the issue asks for at least 100 paragraphs per domain"
    assert len(set(paras)) == len(paras), "paragraphs must be distinct"
    assert all(p.isascii() for p in paras)
    assert min(len(p.split()) for p in paras) >= 40


def test_domains_do_not_share_paragraphs():
    seen = Counter(p for d in corpus.DOMAINS for p in corpus.domain_prose(d))
    assert max(seen.values()) == 1


def test_unknown_domain():
    with pytest.raises(ValueError, match="medical"):
        corpus.domain_prose("sports")


def test_pretraining_corpus_is_deterministic():
    assert corpus.pretraining_corpus() == corpus.pretraining_corpus()
    with pytest.raises(ValueError):
        corpus.pretraining_corpus(-1)


def test_the_prose_domains_are_the_data_labels():
    assert corpus.DOMAINS is data.LABELS
