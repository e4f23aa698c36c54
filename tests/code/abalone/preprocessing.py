"""Preprocessing of the script-mode abalone pipeline: reads the CSV under
/opt/ml/processing/input (sex, seven measures, rings), one-hot encodes the sex, and
splits the rows 80/20 into the train and test outputs, rings first."""

import csv
import glob
import os

import numpy as np

BASE = "/opt/ml/processing"
SEXES = ["M", "F", "I"]

rows = []
for path in sorted(glob.glob(f"{BASE}/input/*.csv")):
    with open(path, newline="") as f:
        rows.extend(csv.reader(f))
if not rows:
    raise SystemExit(f"no rows in {BASE}/input/*.csv")
features = np.array([[s == sex for s in SEXES] + [float(v) for v in row[1:-1]] for row in rows for sex in [row[0]]], dtype=float)
rings = np.array([float(row[-1]) for row in rows])
data = np.column_stack([rings, features])
np.random.default_rng(42).shuffle(data)
cut = int(0.8 * len(data))
for name, part in [("train", data[:cut]), ("test", data[cut:])]:
    os.makedirs(f"{BASE}/{name}", exist_ok=True)
    np.savetxt(f"{BASE}/{name}/{name}.csv", part, delimiter=",", fmt="%.6g")
print(f"preprocessed {len(data)} rows: {cut} train, {len(data) - cut} test")
