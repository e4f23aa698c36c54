"""The view and the reports, through the installed wheel: `Emulator.view_url` answers
with the stack's token and refuses without it, and `--pipelines-emulator-reports DIR`
writes a report of each execution a failed test started. scripts/wheel-check runs it
with SDK 2.x, with only loopback up."""

import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request

FAILING = textwrap.dedent(
    """
    import json

    def test_a_pipeline_that_fails(pipelines_emulator):
        client = pipelines_emulator.boto3_session().client(
            "sagemaker", endpoint_url=pipelines_emulator.env["AWS_ENDPOINT_URL_SAGEMAKER"])
        definition = {"Version": "2020-12-01", "Parameters": [],
                      "Steps": [{"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "stopped here"}}]}
        client.create_pipeline(PipelineName="fails", PipelineDefinition=json.dumps(definition),
                               RoleArn="arn:aws:iam::123456789012:role/pipeline")
        arn = client.start_pipeline_execution(PipelineName="fails")["PipelineExecutionArn"]
        client.get_waiter("pipeline_execution_complete").wait(PipelineExecutionArn=arn,
                                                                WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        assert client.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Succeeded"
    """
)


def test_the_view_answers_with_its_token_only(pipelines_emulator):
    url = pipelines_emulator.view_url
    assert url.startswith("http://127.0.0.1:") and "token=" in url
    # As a browser opens it: the token in the URL becomes a cookie.
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with browser.open(url) as page:
        assert "Pipelines" in page.read().decode()
    try:
        urllib.request.urlopen(url.split("?")[0])
        raise AssertionError("the view answered without its token")
    except urllib.error.HTTPError as refused:
        assert refused.code == 403


def test_a_failed_test_leaves_a_report_of_its_execution(tmp_path):
    (tmp_path / "test_fails.py").write_text(FAILING)
    reports = tmp_path / "reports"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--pipelines-emulator-reports={reports}", "test_fails.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    written = os.listdir(reports)
    assert len(written) == 1 and written[0].startswith("test_a_pipeline_that_fails-fails-"), written
    html = (reports / written[0]).read_text()
    assert "stopped here" in html and 'data-step="Stop"' in html
