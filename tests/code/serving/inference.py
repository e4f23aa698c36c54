"""Inference for the scikit-learn model that tests/code/abalone/train.py saves, as the
inference toolkit loads a SAGEMAKER_PROGRAM: model_fn gives the model; the toolkit's
default input_fn (CSV), predict_fn (model.predict) and output_fn (CSV) do the rest."""

import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
