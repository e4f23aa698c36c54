"""The abalone pipeline's preprocessing, as a user writes it, with the standard library
only: reads every CSV under /opt/ml/processing/input, checks the rings column is a
number, shuffles the rows and splits them 70/15/15 into the train, validation and test
outputs, rings first, as the SDK example's script does."""

import csv
import glob
import os
import random

BASE = "/opt/ml/processing"

rows = []
for path in sorted(glob.glob(f"{BASE}/input/*.csv")):
    with open(path, newline="") as f:
        rows.extend(csv.reader(f))
if not rows:
    raise SystemExit(f"no rows in {BASE}/input/*.csv")
for row in rows:
    row[-1] = str(int(float(row[-1])))
random.Random(42).shuffle(rows)

train_end = int(0.7 * len(rows))
validation_end = int(0.85 * len(rows))
for name, part in [
    ("train", rows[:train_end]),
    ("validation", rows[train_end:validation_end]),
    ("test", rows[validation_end:]),
]:
    os.makedirs(f"{BASE}/{name}", exist_ok=True)
    with open(f"{BASE}/{name}/{name}.csv", "w", newline="") as f:
        csv.writer(f).writerows([row[-1:] + row[:-1] for row in part])
summary = f"split {len(rows)} rows: {train_end} train, {validation_end - train_end} validation, {len(rows) - validation_end} test"
print(summary)
# What DescribeProcessingJob gives as the job's ExitMessage.
os.makedirs("/opt/ml/output", exist_ok=True)
with open("/opt/ml/output/message", "w") as f:
    f.write(summary)
