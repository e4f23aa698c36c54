"""Preprocessing of the abalone pipeline that trains with built-in XGBoost, as the guide's
script does: reads the CSV under /opt/ml/processing/input (sex, seven measures, rings),
one-hot encodes the sex, and splits the rows 70/15/15 into the train, validation and test
outputs, rings first and no header, as the algorithm reads CSV."""

import csv
import glob
import os

import numpy as np

BASE = "/opt/ml/processing"
SEXES = ["M", "F", "I"]

rows = []
for path in sorted(glob.glob(f"{BASE}/input/*.csv")):
    with open(path, newline="") as f:
        rows.extend(r for r in csv.reader(f) if r)
if not rows:
    raise SystemExit(f"no rows in {BASE}/input/*.csv")
features = np.array([[row[0] == sex for sex in SEXES] + [float(v) for v in row[1:-1]] for row in rows], dtype=float)
rings = np.array([float(row[-1]) for row in rows])
data = np.column_stack([rings, features])
np.random.default_rng(42).shuffle(data)
train_end, validation_end = int(0.7 * len(data)), int(0.85 * len(data))
for name, part in [("train", data[:train_end]), ("validation", data[train_end:validation_end]), ("test", data[validation_end:])]:
    os.makedirs(f"{BASE}/{name}", exist_ok=True)
    np.savetxt(f"{BASE}/{name}/{name}.csv", part, delimiter=",", fmt="%.6g")
print(f"preprocessed {len(data)} rows: {train_end} train, {validation_end - train_end} validation, {len(data) - validation_end} test")
