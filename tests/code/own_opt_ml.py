"""Writes a token of its own to /opt/ml/processing/train/owner.txt, holds it for a
second, and fails when what it reads back is not its own: two of these running at once
(the test checks that they overlapped) both pass only if each job's /opt/ml is its own."""

import os
import sys
import time
import uuid

path = "/opt/ml/processing/train/owner.txt"
token = uuid.uuid4().hex
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    f.write(token)
time.sleep(1.0)
with open(path) as f:
    found = f.read()
if found != token:
    sys.exit(f"another job wrote this job's {path}")
print(f"{path} is still this job's own")
