"""Names the pipeline and its readers share, importable without the SageMaker SDK."""

#: The outputs of Preprocess, each a folder under /opt/ml/processing.
SPLITS = ("train", "validation", "test")
STATISTICS = "statistics"
#: Preprocess's output of the training split's features, named: the data-quality baseline's
#: dataset (scripts/preprocess.py BASELINE).
BASELINE = "baseline"
EVALUATION = "evaluation"
EVALUATION_FILE = "evaluation.json"
#: The gate's metric inside evaluation.json (SageMaker's model-quality shape).
GATE_METRIC_PATH = "regression_metrics.mse.value"
PREPROCESS_STEP = "Preprocess"
TRAIN_STEP = "Train"
EVALUATE_STEP = "Evaluate"
BASELINE_STEP = "DataQualityBaseline"
