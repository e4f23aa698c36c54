"""The pipeline of the Deploy guide (docs/deploy.md), written by the SageMaker Python SDK 2.x
from the README's own text: the `python` block that calls `pipeline.upsert(`, run as a
user would run it, with the stack outputs it names set to the emulator's resources.

`upsert()` goes to the moto server scripts/sdk-definitions points the SDK at.
generate.py writes the definition (features.json) and the text it ran
(features.readme.py); tests/readme.rs checks that the README still shows that text.
"""

import os
import re

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "deploy.md")

# The stack outputs and role the example names, as the emulator serves them.
STACK = {
    "LAMBDA_STEP_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:LambdaStepFunction",
    "CALLBACK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/CallbackQueue",
    "PIPELINE_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/pipeline",
}


def source():
    """The README's example, as its fenced block holds it."""
    with open(README) as f:
        text = f.read()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    found = [b for b in blocks if "pipeline.upsert(" in b]
    if len(found) != 1:
        raise SystemExit(f"docs/deploy.md: expected one python block with pipeline.upsert(, found {len(found)}")
    return found[0]


def pipeline():
    namespace = dict(STACK)
    exec(compile(source(), "docs/deploy.md", "exec"), namespace)
    return namespace["pipeline"]
