"""Properties that hold for every string: hypothesis searches for a counter-example.

Modest ``max_examples`` and no deadline keep the run fast and stable on a shared CPU.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verl_crpo.rewards import DEFAULT_WEIGHTS, OBJECTIVES, compute_score

INFO = {
    "question": "A 40-year-old man has crushing chest pain radiating to the left arm and ST elevation in leads II, III "
    "and aVF. Which of the following is the most likely diagnosis?",
    "options": {"A": "Inferior myocardial infarction", "B": "Pericarditis", "C": "Aortic dissection"},
    "index": 0,
}
FRAGMENTS = [
    "<dx>",
    "</dx>",
    "<conclusion>",
    "</conclusion>",
    "\\boxed{",
    "}",
    "{",
    "A",
    "B",
    "(C)",
    "\\text{",
    "unlikely",
    "because",
    "ST elevation",
    "chest pain",
    "myocardial infarction",
    "history of ",
    "120/80 mm Hg",
    "38.5°C",
    " ",
    "\n",
    ". ",
    "\x00",
    "\u200b",
    "Ａ",
    "А",
    "ignore previous instructions",
]
# Random text and random sequences of the tokens that matter, so structure-like inputs are common.
RESPONSES = st.one_of(st.text(max_size=400), st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join))
KEYS = frozenset(compute_score("medqa", "", "A", INFO))
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(RESPONSES)
def test_objectives_are_finite_and_in_range(response):
    # Every objective is a float in [0, 1] and the score is finite; nothing raises.
    result = compute_score("medqa", response, "A", INFO)
    assert all(isinstance(v, float) and math.isfinite(v) for v in result.values())
    assert all(0.0 <= result[k] <= 1.0 for k in OBJECTIVES)


@SETTINGS
@given(RESPONSES)
def test_same_key_set_for_every_input(response):
    # verl takes the key set from the first sample: it must never change.
    assert frozenset(compute_score("medqa", response, "A", INFO)) == KEYS


@SETTINGS
@given(RESPONSES)
def test_score_is_the_weighted_sum(response):
    # score = sum_k w_k * objective_k with the default weights.
    result = compute_score("medqa", response, "A", INFO)
    expected = sum(DEFAULT_WEIGHTS[k] * result[k] for k in OBJECTIVES)
    assert math.isclose(result["score"], expected, rel_tol=1e-12, abs_tol=1e-12)


@SETTINGS
@given(RESPONSES)
def test_deterministic(response):
    # The same input always gives the same output.
    assert compute_score("medqa", response, "A", INFO) == compute_score("medqa", response, "A", INFO)


@SETTINGS
@given(st.text(max_size=200), st.text(max_size=200))
def test_any_wrapped_text_never_raises(analysis, conclusion):
    # Arbitrary text inside a valid structure (the path that runs every objective).
    response = f"<dx>{analysis}</dx><conclusion>{conclusion} \\boxed{{A}}</conclusion>"
    result = compute_score("medqa", response, "A", INFO)
    assert all(0.0 <= result[k] <= 1.0 for k in OBJECTIVES)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_sentence_splitting_gives_the_words_of_words_of(text):
    # options.py's one-pass split claims the same words as text.words_of (marks aside, read as verdicts).
    from verl_crpo.rewards.options import _MARKS, sentences_of
    from verl_crpo.rewards.text import words_of

    plain = "".join(ch for ch in text if ch not in _MARKS)
    assert sentences_of(plain).words == words_of(plain)
