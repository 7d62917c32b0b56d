"""The smoke-test function's reading of answers and its comparison (smoketest/compare.py).

The function end to end, against endpoints that answer right, wrong or not at all, runs in
tests/test_workflow.py (through the state machine) and tests/test_run_workflow.py (mlops run).
"""

from __future__ import annotations

import math

import pytest

from smoketest.compare import DEFAULT_TOLERANCE, AnswerError, compare, numbers


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"1.5\n2.25\n-3\n", "text/csv"),  # the XGBoost container: one line per row
        (b"1.5,2.25,-3", "text/csv; charset=utf-8"),  # older containers: one line
        (b'{"predictions": [{"score": 1.5}, {"score": 2.25}, {"score": -3}]}', "application/json"),
        (b"[1.5, 2.25, -3]", "application/json"),
        (b'{"score": 1.5}\n{"score": 2.25}\n{"score": -3}\n', "application/jsonlines"),
    ],
)
def test_answers_in_the_containers_formats_read_as_numbers(body: bytes, content_type: str) -> None:
    assert numbers(body, content_type) == [1.5, 2.25, -3.0]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"1.5\nerror\n", "text/csv", "'error', not a number"),
        (b'{"predictions": [true]}', "application/json", "True, not a number"),
        (b"{not json", "application/json", "not JSON"),
        (b'{"label": "big"}', "application/json", "'big', not a number"),
    ],
)
def test_an_answer_that_is_not_numbers_says_what_it_holds(
    body: bytes, content_type: str, message: str
) -> None:
    with pytest.raises(AnswerError, match=message):
        numbers(body, content_type)


def test_compare_finds_the_first_row_outside_the_tolerance_and_the_largest_difference() -> None:
    expected = [1.0, 10.0, 100.0, 5.0]
    # Within: 1e-4 absolute below 1, relative above (100.005 is 5e-5 off relative).
    within = compare([1.00005, 10.0005, 100.005, 5.0], expected, DEFAULT_TOLERANCE)
    assert within.passed() and within.rows == 4
    assert within.max_abs_diff == pytest.approx(0.005)
    outside = compare([1.0, 10.0, 101.0, 7.0], expected, DEFAULT_TOLERANCE)
    assert not outside.passed()
    assert outside.first_mismatch == 2 and outside.max_abs_diff == pytest.approx(2.0)


def test_a_missing_answer_or_a_nan_is_a_mismatch() -> None:
    with pytest.raises(AnswerError, match="2 predictions for 3 rows"):
        compare([1.0, 2.0], [1.0, 2.0, 3.0], DEFAULT_TOLERANCE)
    result = compare([1.0, math.nan], [1.0, 2.0], DEFAULT_TOLERANCE)
    assert result.first_mismatch == 1 and result.max_abs_diff == math.inf
