"""Names the pipeline and its readers share, importable without the SageMaker SDK."""

#: The outputs of Preprocess, each a folder under /opt/ml/processing.
SPLITS = ("train", "validation", "test")
STATISTICS = "statistics"
#: Preprocess's output of the training split's features, named: the data-quality baseline's
#: dataset (scripts/preprocess.py BASELINE).
BASELINE = "baseline"
EVALUATION = "evaluation"
EVALUATION_FILE = "evaluation.json"
#: Beside evaluation.json: the challenger against the champion (scripts/evaluate.py), and the
#: folder of the pictures a reviewer looks at.
COMPARISON_FILE = "comparison.json"
PICTURES_FOLDER = "pictures"
#: FindChampion's output (scripts/champion.py): which model the new one is compared with.
CHAMPION = "champion"
CHAMPION_FILE = "champion.json"
#: The gate's reading of comparison.json: how much higher the challenger's MSE is.
MSE_INCREASE_PATH = "mse_increase"
#: The gate's metric inside evaluation.json (SageMaker's model-quality shape).
GATE_METRIC_PATH = "regression_metrics.mse.value"
PREPROCESS_STEP = "Preprocess"
TRAIN_STEP = "Train"
EVALUATE_STEP = "Evaluate"
BASELINE_STEP = "DataQualityBaseline"
FIND_CHAMPION_STEP = "FindChampion"

#: The model's input features in order (scripts/preprocess.py FEATURES, which runs in its
#: container without this module; tests/test_preprocess.py checks they agree): the columns of
#: the baseline, of the endpoint's requests, and of the drift alarm's metrics.
MODEL_FEATURES = (
    "length",
    "diameter",
    "height",
    "whole_weight",
    "shucked_weight",
    "viscera_weight",
    "shell_weight",
    "sex_F",
    "sex_I",
    "sex_M",
)
