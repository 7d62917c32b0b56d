"""The model serving contract: load a model as its container does, then answer requests.

One API for every local consumer of a model (a Transform step now, `InvokeEndpoint` later):
`load(model_dir, image, environment)` returns a `Served` whose `invoke(body, content_type,
accept)` returns a `Response` or raises `ServingError` with the HTTP status the container
would answer. Two contracts are implemented, each after its container's source:

- The SageMaker XGBoost algorithm (aws/sagemaker-xgboost-container at cb8df91c,
  `algorithm_mode/serve.py`, `serve_utils.py`, `encoder.py`): the model is the first non-dot
  file in the model folder, read with `Booster.load_model` (a pickled Booster is read as the
  container does); requests are `text/csv` (no label column, delimiter sniffed, empty cells
  missing) or `text/libsvm` (one-based indices shifted); the response is one prediction per
  line under `SAGEMAKER_BATCH` and for `text/csv`, `{"predictions": [{"score": v}, ...]}` for
  `application/json`; without an Accept, `SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT` or text/csv.
- Script mode (the SDK's `entry_point`, `SAGEMAKER_PROGRAM` in the model's environment): the
  user module's `model_fn`, `input_fn`, `predict_fn`, `output_fn` (or `transform_fn`), as the
  SageMaker inference toolkit calls them (aws/sagemaker-inference-toolkit at f79853d4,
  `transformer.py`, `decoder.py`, `encoder.py`): UTF-8 content types arrive decoded as str;
  an `output_fn` may return (body, content type); defaults decode JSON/CSV/NPY to numpy and
  encode back; without an Accept, `SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT` or application/json.
  On the XGBoost framework image the default `input_fn` yields a DMatrix and the default
  `predict_fn` is `model.predict(data, validate_features=False)` (`serving.py` there).

The user module is imported into this process (a local stand-in has no container to keep it
apart): each model gets its own module object and its own `code/` and `code/lib` on sys.path.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import pickle
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
NPY = "application/x-npy"
LIBSVM = "text/libsvm"
#: Content types the inference toolkit decodes to str before input_fn (content_types.UTF8_TYPES).
UTF8_TYPES = (JSON, CSV, JSONLINES, "application/x-jsonlines", "text/plain")
_IMPORT_LOCK = threading.Lock()


class ServingError(Exception):
    """A request the model's container would refuse, with the HTTP status it would answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Response:
    body: bytes
    content_type: str


class Served(Protocol):
    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Response: ...


def media_type(value: str | None) -> str:
    """`text/csv` from `text/csv; label_size=1` (parameters dropped, lower case)."""
    return (value or "").split(";", 1)[0].strip().lower()


def is_xgboost_image(image: str | None) -> bool:
    path = (image or "").split("/", 1)[-1]
    return path.split("@", 1)[0].rsplit(":", 1)[0] == "sagemaker-xgboost"


def load(model_dir: Path, image: str | None, environment: Mapping[str, str]) -> Served:
    """The model in `model_dir` (model.tar.gz extracted) served as its container serves it."""
    program = environment.get("SAGEMAKER_PROGRAM")
    if program:
        return ScriptModel(model_dir, str(program), environment, xgboost=is_xgboost_image(image))
    if is_xgboost_image(image):
        return XGBoostAlgorithmModel(model_dir, environment)
    raise ServingError(
        500,
        f"image {image} serves with its own container; locally only the XGBoost algorithm "
        "(sagemaker-xgboost) and models with an inference entry point (SAGEMAKER_PROGRAM) serve",
    )


# --- the XGBoost algorithm ---------------------------------------------------------------


def load_booster(model_dir: Path) -> Any:
    """The first non-dot file of the model folder, as serve_utils.get_loaded_booster reads it."""
    import xgboost as xgb

    files = sorted(p for p in model_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ServingError(500, f"Unable to load model: no model file in {model_dir}")
    path = files[0]
    booster = xgb.Booster()
    try:
        booster.load_model(str(path))
    except xgb.core.XGBoostError:
        try:  # the container tries pickle first; a pickled Booster is the user's own artifact
            with path.open("rb") as handle:
                booster = pickle.load(handle)
        except Exception as exc:
            raise ServingError(500, f"Unable to load model {path.name}: {exc}") from None
    booster.set_param("nthread", "1")
    return booster


def csv_matrix(text: str) -> Any:
    """CSV rows as a DMatrix: sniffed delimiter, '' as missing (encoder.csv_to_dmatrix)."""
    import numpy as np
    import xgboost as xgb

    lines = [line for line in text.strip().split("\n")]
    try:
        delimiter = csv.Sniffer().sniff(lines[0][:512]).delimiter
    except csv.Error:
        delimiter = ","
    delimiter = "," if delimiter.isalnum() else delimiter
    rows = [["nan" if cell == "" else cell for cell in line.split(delimiter)] for line in lines]
    return xgb.DMatrix(np.array(rows).astype(float))


def libsvm_matrix(text: str) -> Any:
    """libsvm rows (labels ignored) as a DMatrix; one-based indices shifted (serve_utils)."""
    import numpy as np
    import xgboost as xgb
    from scipy.sparse import csr_matrix

    rows, cols, values = [], [], []
    for row, line in enumerate(text.strip().split("\n")):
        for item in line.split(" "):
            if ":" in item:
                index, value = item.split(":", 1)
                rows.append(row)
                cols.append(int(index))
                values.append(float(value))
    columns = np.array(cols, dtype=int)
    if columns.size and columns.min() >= 1:
        columns = columns - 1
    return xgb.DMatrix(csr_matrix((np.array(values, dtype=float), (np.array(rows), columns))))


class XGBoostAlgorithmModel:
    """The built-in XGBoost algorithm's serving (algorithm_mode/serve.py)."""

    def __init__(self, model_dir: Path, environment: Mapping[str, str]) -> None:
        self.booster = load_booster(model_dir)
        self.batch = bool(environment.get("SAGEMAKER_BATCH"))
        self.default_accept = environment.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or CSV

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Response:
        if not body:
            return Response(b"", accept or self.default_accept)  # the container: 204
        kind = media_type(content_type) or LIBSVM  # data_utils: no ContentType -> libsvm
        try:
            text = body.strip().decode("utf-8")
            if kind in ("text/csv", "csv"):
                data = csv_matrix(text)
            elif kind in ("text/libsvm", "libsvm", "text/x-libsvm"):
                data = libsvm_matrix(text)
            else:
                raise ServingError(415, f"Content-type {content_type} is not supported.")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ServingError(415, f"Loading {kind} data failed: {exc}") from None
        try:
            predictions = self.booster.predict(data, validate_features=False).tolist()
        except Exception as exc:
            raise ServingError(400, f"Unable to evaluate payload provided: {exc}") from None
        wanted = media_type(accept)
        wanted = self.default_accept if wanted in ("", "*/*") else wanted
        if self.batch or wanted == CSV:
            return Response(("\n".join(map(str, predictions)) + "\n").encode(), wanted)
        if wanted == JSON:
            document = {"predictions": [{"score": value} for value in predictions]}
            return Response(json.dumps(document).encode(), JSON)
        if wanted == JSONLINES:
            lines = "".join(json.dumps({"score": value}) + "\n" for value in predictions)
            return Response(lines.encode(), JSONLINES)
        raise ServingError(406, f"Accept type {accept} is not supported: text/csv, {JSON}")


# --- script mode: the inference toolkit's handlers -----------------------------------------


def default_decode(data: Any, content_type: str) -> Any:
    """The inference toolkit's decoder: JSON, CSV and NPY to a numpy array."""
    import numpy as np

    kind = media_type(content_type)
    if kind == JSON:
        return np.array(json.loads(data))
    if kind == CSV:
        return np.genfromtxt(io.StringIO(data), delimiter=",", dtype=np.float32, ndmin=1)
    if kind == NPY:
        return np.load(io.BytesIO(data), allow_pickle=False)
    raise ServingError(415, f"Content type {content_type} is not supported by the default input_fn")


def default_encode(prediction: Any, accept: str) -> bytes | str:
    """The inference toolkit's encoder: a prediction to JSON, CSV or NPY."""
    import numpy as np

    kind = media_type(accept)
    if kind == JSON:
        value = prediction.tolist() if hasattr(prediction, "tolist") else prediction
        return json.dumps(value)
    if kind == CSV:
        stream = io.StringIO()
        np.savetxt(stream, np.asarray(prediction), delimiter=",", fmt="%s")
        return stream.getvalue()
    if kind == NPY:
        stream_bytes = io.BytesIO()
        np.save(stream_bytes, np.asarray(prediction))
        return stream_bytes.getvalue()
    raise ServingError(406, f"Accept type {accept} is not supported by the default output_fn")


class ScriptModel:
    """A model with an inference entry point, served through its handler functions."""

    def __init__(
        self, model_dir: Path, program: str, environment: Mapping[str, str], xgboost: bool
    ) -> None:
        self.default_accept = environment.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or JSON
        self.xgboost = xgboost
        self.module = _import_user_module(model_dir / "code", program)
        handlers = {
            name: getattr(self.module, name, None)
            for name in ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn")
        }
        if handlers["transform_fn"] and any(
            handlers[n] for n in ("input_fn", "predict_fn", "output_fn")
        ):
            raise ServingError(
                500,
                "Cannot use transform_fn implementation with input_fn, predict_fn and/or output_fn",
            )
        model_fn = handlers["model_fn"]
        if model_fn is None and xgboost:
            # The XGBoost framework image brings its own (serving.py there: default_model_fn
            # loads the model file as the algorithm does).
            model_fn = lambda folder: load_booster(Path(folder))  # noqa: E731
        if model_fn is None:
            raise ServingError(500, f"{program}: please provide a model_fn implementation")
        self.transform_fn: Callable[..., Any] | None = handlers["transform_fn"]
        self.input_fn = handlers["input_fn"] or self._default_input
        self.predict_fn = handlers["predict_fn"] or self._default_predict
        self.output_fn = handlers["output_fn"] or default_encode
        self.model = model_fn(str(model_dir))

    def _default_input(self, data: Any, content_type: str) -> Any:
        if self.xgboost and media_type(content_type) in (CSV, LIBSVM):
            text = data if isinstance(data, str) else data.decode("utf-8")
            kind = media_type(content_type)
            return csv_matrix(text) if kind == CSV else libsvm_matrix(text)
        return default_decode(data, content_type)

    def _default_predict(self, data: Any, model: Any) -> Any:
        if self.xgboost:
            import xgboost as xgb

            matrix = data if isinstance(data, xgb.DMatrix) else xgb.DMatrix(data)
            return model.predict(matrix, validate_features=False)
        return model(data)

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Response:
        kind = content_type or JSON
        wanted = accept if accept and accept != "*/*" else self.default_accept
        data: Any = body.decode("utf-8") if media_type(kind) in UTF8_TYPES else body
        try:
            if self.transform_fn is not None:
                result = self.transform_fn(self.model, data, kind, wanted)
            else:
                prediction = self.predict_fn(self.input_fn(data, kind), self.model)
                result = self.output_fn(prediction, wanted)
        except ServingError:
            raise
        except Exception as exc:
            raise ServingError(500, f"{type(exc).__name__}: {exc}") from None
        response_type = wanted
        if isinstance(result, tuple):
            result, response_type = result[0], result[1]
        encoded = result.encode("utf-8") if isinstance(result, str) else bytes(result)
        return Response(encoded, response_type)


def _import_user_module(code: Path, program: str) -> ModuleType:
    """The entry point as a fresh module, with code/ and code/lib importable (as in the toolkit)."""
    path = code / program
    if not path.is_file():
        raise ServingError(500, f"inference entry point {program} is not in the model's code/")
    with _IMPORT_LOCK:
        for folder in (code / "lib", code):
            if folder.is_dir() and str(folder) not in sys.path:
                sys.path.insert(0, str(folder))
        name = f"_sagemaker_inference_{Path(program).stem}_{uuid.uuid4().hex[:8]}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ServingError(500, f"cannot import {program}")
        module = importlib.util.module_from_spec(spec)
        cwd = os.getcwd()
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise ServingError(500, f"importing {program} failed: {exc}") from None
        finally:
            os.chdir(cwd)
    return module
