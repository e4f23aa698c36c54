"""Evaluation of the abalone pipeline that trains with built-in XGBoost, as the guide's
evaluation script does: unpacks the training job's model.tar.gz, loads xgboost-model (a
pickled Booster up to container 1.2-x, a saved model after), predicts the test split, and
writes the MSE into evaluation.json, the pipeline's PropertyFile."""

import json
import os
import pickle
import tarfile

import numpy as np
import xgboost

BASE = "/opt/ml/processing"

with tarfile.open(f"{BASE}/model/model.tar.gz") as archive:
    archive.extractall(".", filter="data")
try:
    with open("xgboost-model", "rb") as f:
        model = pickle.load(f)
except (pickle.UnpicklingError, EOFError, ValueError):
    model = xgboost.Booster()
    model.load_model("xgboost-model")
test = np.loadtxt(f"{BASE}/test/test.csv", delimiter=",", ndmin=2)
predictions = model.predict(xgboost.DMatrix(test[:, 1:]))
mse = float(np.mean((test[:, 0] - predictions) ** 2))
os.makedirs(f"{BASE}/evaluation", exist_ok=True)
with open(f"{BASE}/evaluation/evaluation.json", "w") as f:
    json.dump({"regression_metrics": {"mse": {"value": mse, "standard_deviation": float(np.std(predictions))}}}, f)
print(f"test mse: {mse:.4f}")
