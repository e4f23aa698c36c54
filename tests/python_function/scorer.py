"""A Lambda-step function in Python, served to the emulator with
`--function python-scorer=".venv/bin/python -m awslambdaric tests.python_function.scorer.handler"`:
flat inputs in, flat outputs out, as SageMaker's Lambda step expects."""


def handler(event, context):
    threshold = float(event.get("threshold", 0.5))
    score = round(len(str(event.get("model", ""))) / 100, 2)
    return {"Score": score, "Passed": score >= threshold, "Runtime": "python"}
