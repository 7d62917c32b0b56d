"""BatchStrategy MultiRecord: many records per request, the same answers as one per request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost

from localaws import serving
from localaws.executor.errors import StepFailed
from localaws.executor.transform import _batches, _Records

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


class Counting:
    """A served model that counts its requests."""

    def __init__(self, served: serving.Served) -> None:
        self.served, self.requests = served, 0

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Any:
        self.requests += 1
        return self.served.invoke(body, content_type, accept)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> serving.Served:
    rng = np.random.default_rng(7)
    features = rng.normal(size=(200, 3))
    labels = features @ np.array([1.0, -2.0, 0.5])
    booster = xgboost.train({"max_depth": 3}, xgboost.DMatrix(features, label=labels), 10)
    folder = tmp_path_factory.mktemp("model")
    booster.save_model(str(folder / "xgboost-model"))
    return serving.load(folder, IMAGE, {"SAGEMAKER_BATCH": "true"})


ROWS = [f"{i},{i * 0.1:.1f},{-i * 0.2:.1f},{i % 3}".encode() for i in range(40)]
#: Drop the label column on the way in, keep the label and the prediction on the way out.
FILTERS = {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}


def test_many_records_per_request_answer_as_one_per_request(model: serving.Served) -> None:
    single, multi = Counting(model), Counting(model)
    one = _Records("T", single, "text/csv", "text/csv", FILTERS, "in.csv")
    many = _Records("T", multi, "text/csv", "text/csv", FILTERS, "in.csv")
    expected = [one.one(row) for row in ROWS]
    answers = [a for batch in _batches(ROWS, 200) for a in many.many(batch)]
    assert answers == expected
    assert single.requests == len(ROWS)
    assert 1 < multi.requests < len(ROWS)  # 200-byte requests: several, far fewer than rows
    labels = [row.split(b",")[0] + b"," for row in ROWS]
    assert all(a.startswith(label) for a, label in zip(answers, labels, strict=True))


def test_batches_keep_order_and_stay_within_the_payload() -> None:
    batches = _batches(ROWS, 64)
    assert [row for batch in batches for row in batch] == ROWS
    assert all(sum(len(r) + 1 for r in batch) <= 64 for batch in batches if len(batch) > 1)
    assert _batches([b"x" * 100], 10) == [[b"x" * 100]]  # one record larger than the limit


def test_a_model_that_answers_fewer_records_fails_the_step(tmp_path: Path) -> None:
    class Short:
        def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Any:
            return serving.Response(b"1.0\n", "text/csv")

    records = _Records("T", Short(), "text/csv", "text/csv", {}, "in.csv")
    with pytest.raises(StepFailed, match=r"answered 1 record\(s\) for a mini-batch of 3"):
        records.many([b"1,2", b"3,4", b"5,6"])


def test_a_script_on_the_xgboost_image_may_leave_model_fn_to_the_container(
    tmp_path: Path,
) -> None:
    """The XGBoost framework image's default model_fn loads the model file; the script only
    shapes the answer (here: a rounded CSV line per row)."""
    rng = np.random.default_rng(3)
    features = rng.normal(size=(50, 3))
    booster = xgboost.train({"max_depth": 2}, xgboost.DMatrix(features, label=features[:, 0]), 5)
    booster.save_model(str(tmp_path / "xgboost-model"))
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text(
        "def output_fn(prediction, accept):\n"
        "    return ''.join(f'{p:.3f}\\n' for p in prediction), 'text/csv'\n"
    )
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    served = serving.load(tmp_path, image, {"SAGEMAKER_PROGRAM": "inference.py"})
    answer = served.invoke(b"0.1,0.2,0.3\n1,2,3\n", "text/csv", "text/csv")
    expected = booster.predict(xgboost.DMatrix(np.array([[0.1, 0.2, 0.3], [1, 2, 3]])))
    assert answer.body.decode() == "".join(f"{p:.3f}\n" for p in expected)
