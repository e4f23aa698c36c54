"""Evaluation of the script-mode abalone pipeline: unpacks the model.tar.gz the training
job made, scores the test split, and writes the MSE into evaluation.json, the pipeline's
PropertyFile, as the SDK example's evaluation script does."""

import json
import os
import tarfile

import joblib
import numpy as np
from sklearn.metrics import mean_squared_error

BASE = "/opt/ml/processing"

with tarfile.open(f"{BASE}/model/model.tar.gz") as archive:
    archive.extractall(f"{BASE}/model", filter="data")
model = joblib.load(f"{BASE}/model/model.joblib")
test = np.loadtxt(f"{BASE}/test/test.csv", delimiter=",", ndmin=2)
mse = mean_squared_error(test[:, 0], model.predict(test[:, 1:]))
os.makedirs(f"{BASE}/evaluation", exist_ok=True)
with open(f"{BASE}/evaluation/evaluation.json", "w") as f:
    json.dump({"regression_metrics": {"mse": {"value": mse, "standard_deviation": float(np.std(test[:, 0]))}}}, f)
print(f"test mse: {mse:.4f}")
