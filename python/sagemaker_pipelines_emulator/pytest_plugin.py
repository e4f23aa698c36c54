"""The pytest plugin (entry point `pytest11`): a session fixture, `pipelines_emulator`,
that starts the emulator once, points every AWS client of the test process at it, and
stops it at the end of the session (or with the test process, however that ends).

    def test_my_pipeline(pipelines_emulator):
        pipeline = my_pipeline(sagemaker_session=pipelines_emulator.pipeline_session())
        pipeline.upsert(role_arn="arn:aws:iam::123456789012:role/pipeline")
        execution = pipeline.start()
        execution.wait(delay=1)
        assert {s["StepStatus"] for s in execution.list_steps()} == {"Succeeded"}

Options (command line, or `[pytest] pipelines_emulator_*` ini keys): the mock file, a
template, functions and queues, as `pipelines-emulator up` takes them; and
`--pipelines-emulator-reports DIR`, which writes every execution a failed test started as
one HTML report file in DIR (`<test>-<pipeline>-<execution id>.html`), to keep as a CI
artifact or attach to a bug report.
"""

from __future__ import annotations

import os

import pytest

from .emulator import REGION, Emulator


def _pairs(values):
    pairs = {}
    for value in values or []:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise pytest.UsageError(f"expected NAME=VALUE, got {value!r}")
        pairs[name] = rest
    return pairs


def pytest_addoption(parser):
    group = parser.getgroup("pipelines-emulator", "SageMaker Pipelines emulator")
    options = [
        ("mocks", "a mock file: how SageMaker's job steps behave", None),
        ("template", "a SAM template other than the one that comes with the emulator", None),
        ("function", "NAME=COMMAND: a Lambda function of your own (repeatable)", "append"),
        ("queue", "NAME=LOGICAL_ID: a queue name routed to a template queue (repeatable)", "append"),
        ("queue-function", "NAME=COMMAND: a queue of your own with its handler (repeatable)", "append"),
        ("python", "the interpreter the job steps' code runs in (default: this one)", None),
        ("reports", "a folder: each execution a failed test started, as an HTML report", None),
    ]
    group.addoption(
        "--pipelines-emulator-run-code",
        action="store_true",
        help="job steps run their own code (script-mode Processing and Training), not their mocks",
    )
    parser.addini("pipelines_emulator_run_code", "job steps run their own code", type="bool", default=False)
    for name, help_text, action in options:
        group.addoption(f"--pipelines-emulator-{name}", action=action or "store", help=help_text)
        parser.addini(
            f"pipelines_emulator_{name.replace('-', '_')}",
            help_text,
            type="linelist" if action else "string",
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_collection(session):
    # SDK 3.x makes boto3 clients when a test module imports it, before any fixture
    # runs; with no region anywhere that import fails. So while test modules are
    # imported, and only then, a region is set when the user has none; the clients a
    # test makes get the emulator's whole environment from the fixture.
    missing = not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    if missing:
        os.environ["AWS_DEFAULT_REGION"] = REGION
    try:
        yield
    finally:
        if missing and os.environ.get("AWS_DEFAULT_REGION") == REGION:
            del os.environ["AWS_DEFAULT_REGION"]


def _option(config, name):
    value = config.getoption(f"--pipelines-emulator-{name}")
    return value or config.getini(f"pipelines_emulator_{name.replace('-', '_')}") or None


@pytest.fixture(scope="session")
def pipelines_emulator(pytestconfig):
    """The running emulator: `.env`, `.endpoints`, `.boto3_session()`,
    `.pipeline_session()`; its environment is in os.environ for the whole session."""
    emulator = Emulator(
        mocks=_option(pytestconfig, "mocks"),
        template=_option(pytestconfig, "template"),
        functions=_pairs(_option(pytestconfig, "function")),
        queues=_pairs(_option(pytestconfig, "queue")),
        queue_functions=_pairs(_option(pytestconfig, "queue-function")),
        run_code=pytestconfig.getoption("--pipelines-emulator-run-code") or pytestconfig.getini("pipelines_emulator_run_code"),
        python=_option(pytestconfig, "python"),
    )
    with emulator, emulator.environment():
        yield emulator


def _executions_since(emulator, since):
    """The ARNs of the executions the emulator started at or after `since`."""
    client = emulator.boto3_session().client("sagemaker", endpoint_url=emulator.env["AWS_ENDPOINT_URL_SAGEMAKER"])
    arns = []
    for page in client.get_paginator("list_pipelines").paginate():
        for pipeline in page["PipelineSummaries"]:
            for listed in client.get_paginator("list_pipeline_executions").paginate(
                PipelineName=pipeline["PipelineName"], CreatedAfter=since
            ):
                arns += [e["PipelineExecutionArn"] for e in listed["PipelineExecutionSummaries"]]
    return arns


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    import datetime

    item._pipelines_emulator_started = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    folder = _option(item.config, "reports")
    emulator = getattr(item, "funcargs", {}).get("pipelines_emulator")
    started = getattr(item, "_pipelines_emulator_started", None)
    if not (folder and emulator and started and report.when == "call" and report.failed):
        return
    os.makedirs(folder, exist_ok=True)
    written = []
    for arn in _executions_since(emulator, started):
        pipeline, _, execution = arn.split(":pipeline/", 1)[1].partition("/execution/")
        name = f"{item.name}-{pipeline}-{execution}.html".replace("/", "_")
        written.append(str(emulator.report(arn, os.path.join(folder, name))))
    if written:
        report.sections.append(("pipelines-emulator reports", "\n".join(written)))
