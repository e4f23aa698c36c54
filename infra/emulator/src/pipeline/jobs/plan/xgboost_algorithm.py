"""Built-in XGBoost in algorithm mode, as SageMaker's XGBoost container trains: the
hyperparameters of /opt/ml/input/config/hyperparameters.json validated as the container
validates them, the `train` (required) and `validation` channels parsed by their
ContentType, one evaluation line per round, and /opt/ml/model/xgboost-model in the format
the container version writes. Written from the container's documented behaviour; it runs
with the xgboost of the job's interpreter.

pipelines-emulator runs it as a job's entrypoint, with PIPELINES_EMULATOR_XGBOOST_IMAGE
naming the container version (1.0-1, 1.7-1, 3.0-5, ...)."""

import csv
import json
import os
import pickle
import sys

CONFIG = "/opt/ml/input/config"
DATA = "/opt/ml/input/data"
MODEL = "/opt/ml/model/xgboost-model"
FAILURE = "/opt/ml/output/failure"

# The container's hyperparameters, by name; aliases name another.
KNOWN = {
    "num_round", "csv_weights", "early_stopping_rounds", "booster", "verbosity", "nthread", "eta",
    "gamma", "max_depth", "min_child_weight", "max_delta_step", "subsample", "colsample_bytree",
    "colsample_bylevel", "colsample_bynode", "lambda", "alpha", "tree_method", "sketch_eps",
    "scale_pos_weight", "updater", "dsplit", "refresh_leaf", "process_type", "grow_policy",
    "max_leaves", "max_bin", "predictor", "monotone_constraints", "interaction_constraints",
    "sample_type", "normalize_type", "rate_drop", "one_drop", "skip_drop", "lambda_bias",
    "tweedie_variance_power", "objective", "num_class", "base_score", "_kfold", "_num_cv_round",
    "_tuning_objective_metric", "eval_metric", "seed", "num_parallel_tree",
    "save_model_on_termination", "aft_loss_distribution", "aft_loss_distribution_scale",
    "deterministic_histogram", "sampling_method", "prob_buffer_row", "max_cat_to_onehot",
    "use_dask_gpu_training", "single_precision_histogram",
}
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}
# Taken out before the rest go to xgboost's train().
NOT_PARAMS = {"num_round", "early_stopping_rounds", "eval_metric", "csv_weights", "_kfold", "_num_cv_round",
              "save_model_on_termination", "_tuning_objective_metric"}
CSV = {"text/csv", "csv"}
LIBSVM = {"text/libsvm", "text/x-libsvm", "libsvm"}
PARQUET = {"application/x-parquet", "parquet"}
RECORDIO = {"application/x-recordio-protobuf", "recordio-protobuf"}


class UserError(Exception):
    """What the container reports as a ClientError: the job's input is at fault."""


def image_version():
    text = os.environ.get("PIPELINES_EMULATOR_XGBOOST_IMAGE", "1.7-1")
    major, _, rest = text.partition(".")
    minor = rest.split("-")[0]
    return text, (int(major), int(minor or 0))


def hyperparameters(version):
    with open(os.path.join(CONFIG, "hyperparameters.json")) as f:
        given = json.load(f)
    known = KNOWN | (set() if version > (1, 0) else {"silent"})
    params = {}
    for name, value in given.items():
        name = ALIASES.get(name, name)
        if name not in known:
            raise UserError(f"Extraneous hyperparameter found: {name}")
        params[name] = str(value)
    if "num_round" not in params:
        raise UserError("Missing required hyperparameter: num_round")
    return params


def content_types():
    try:
        with open(os.path.join(CONFIG, "inputdataconfig.json")) as f:
            config = json.load(f)
    except FileNotFoundError:
        return {}
    return {name: (c.get("ContentType") or "").split(";")[0].strip().lower() for name, c in config.items()}


def files_of(channel):
    """The channel's files, in order, skipping those whose name starts with . or _."""
    found = []
    for root, dirs, names in os.walk(os.path.join(DATA, channel)):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        found += [os.path.join(root, n) for n in sorted(names) if not n.startswith((".", "_"))]
    return found


def read_csv(paths, weighted):
    import numpy as np

    rows = []
    for path in paths:
        with open(path, newline="") as f:
            sample = f.read(4096)
            f.seek(0)
            try:
                delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t ").delimiter
            except csv.Error:
                delimiter = ","
            rows += [r for r in csv.reader(f, delimiter=delimiter) if r]
    if not rows:
        raise UserError("the channel holds no rows")
    try:
        matrix = np.array(rows, dtype=float)
    except ValueError as e:
        raise UserError(f"a CSV value is not a number ({e}): the label is the first column, and there is no header")
    if matrix.shape[1] < (3 if weighted else 2):
        raise UserError("a CSV row needs the label in its first column and at least one feature")
    label, rest = matrix[:, 0], matrix[:, 1:]
    weight = None
    if weighted:
        weight, rest = rest[:, 0], rest[:, 1:]
    return rest, label, weight


def matrix(channel, content_type, weighted):
    import xgboost as xgb

    paths = files_of(channel)
    if not paths:
        raise UserError(f"channel {channel} has no file")
    if content_type in CSV:
        features, label, weight = read_csv(paths, weighted)
        return xgb.DMatrix(features, label=label, weight=weight)
    if content_type in LIBSVM or not content_type:
        joined = os.path.join("/opt/ml/input", f".{channel}.libsvm")
        with open(joined, "wb") as out:
            for path in paths:
                with open(path, "rb") as f:
                    data = f.read()
                out.write(data if data.endswith(b"\n") or not data else data + b"\n")
        dmatrix = xgb.DMatrix(f"{joined}?format=libsvm")
        if dmatrix.num_row() == 0:
            raise UserError(f"channel {channel} holds no rows")
        return dmatrix
    if content_type in PARQUET:
        try:
            import pyarrow
            import pyarrow.parquet
        except ImportError:
            raise UserError("a parquet channel needs pyarrow in the job's interpreter (pip install pyarrow)")
        import numpy

        table = pyarrow.concat_tables([pyarrow.parquet.read_table(p) for p in paths])
        if table.num_columns < 2:
            raise UserError(f"channel {channel}: a parquet file needs the label column and at least one feature")
        columns = [numpy.asarray(table.column(i).to_numpy(), dtype=float) for i in range(table.num_columns)]
        return xgb.DMatrix(numpy.column_stack(columns[1:]), label=columns[0])
    if content_type in RECORDIO:
        raise UserError("recordio-protobuf channels are not read by pipelines-emulator's XGBoost")
    raise UserError(f"Content type {content_type} is not supported")


def train():
    import xgboost as xgb

    image, version = image_version()
    print(f"pipelines-emulator: built-in XGBoost {image} in algorithm mode, on xgboost {xgb.__version__}", flush=True)
    params = hyperparameters(version)
    if "_kfold" in params:
        raise UserError("_kfold (cross-validation) is not run by pipelines-emulator's XGBoost")
    types = content_types()
    weighted = params.get("csv_weights") == "1"
    if not files_of("train"):
        raise UserError("Channel 'train' is required and has no file")
    dtrain = matrix("train", types.get("train", ""), weighted)
    evals = [(dtrain, "train")]
    if files_of("validation"):
        evals.append((matrix("validation", types.get("validation", ""), weighted), "validation"))
    booster_params = {k: v for k, v in params.items() if k not in NOT_PARAMS}
    # The objective the old containers took and today's xgboost removed.
    if booster_params.get("objective") == "reg:linear":
        booster_params["objective"] = "reg:squarederror"
    if "eval_metric" in params:
        booster_params["eval_metric"] = params["eval_metric"].split(",")
    try:
        booster = xgb.train(
            booster_params,
            dtrain,
            num_boost_round=int(params["num_round"]),
            evals=evals,
            early_stopping_rounds=int(params["early_stopping_rounds"]) if "early_stopping_rounds" in params else None,
            verbose_eval=True,
        )
    except xgb.core.XGBoostError as e:
        raise UserError(str(e).splitlines()[0])
    os.makedirs(os.path.dirname(MODEL), exist_ok=True)
    if version <= (1, 2):
        with open(MODEL, "wb") as f:
            pickle.dump(booster, f)
    else:
        booster.save_model(MODEL)


if __name__ == "__main__":
    try:
        train()
    except UserError as e:
        with open(FAILURE, "w") as f:
            f.write(f"ClientError: {e}")
        print(f"ClientError: {e}", file=sys.stderr)
        sys.exit(2)
