"""An inference script whose predict_fn raises on the batch's first record: the
transform job fails with its error, naming the object."""

import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(data, model):
    raise RuntimeError(f"refusing {len(data)} rows: the scaler was not fitted")
