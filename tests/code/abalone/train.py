"""Script-mode training, as an SKLearn estimator's entry point: reads the train channel
from SM_CHANNEL_TRAIN, fits a decision tree of --max_depth on it, prints its training MSE
(the pipeline's MetricDefinition scrapes it) and saves the model into SM_MODEL_DIR."""

import argparse
import glob
import os

import joblib
import numpy as np
from sklearn.metrics import mean_squared_error
from sklearn.tree import DecisionTreeRegressor

parser = argparse.ArgumentParser()
parser.add_argument("--max_depth", type=int, default=3)
args = parser.parse_args()

train = np.vstack([np.loadtxt(p, delimiter=",", ndmin=2) for p in glob.glob(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "*.csv"))])
y, x = train[:, 0], train[:, 1:]
model = DecisionTreeRegressor(max_depth=args.max_depth, random_state=0).fit(x, y)
print(f"train mse: {mean_squared_error(y, model.predict(x)):.4f}")
joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
