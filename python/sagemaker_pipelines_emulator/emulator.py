"""Starts and stops `pipelines-emulator up` from Python, and binds AWS clients to it."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Iterator, Mapping, Optional

# The bucket the SageMaker SDK uses as its default: named in the SDK config the emulator
# writes, so the SDK never asks STS for an account to name one.
DEFAULT_BUCKET = "sagemaker-pipelines-emulator"
# The region the emulator's ARNs and endpoints are in.
REGION = "us-east-1"
_PR_SET_PDEATHSIG = 1


# What of the user's own AWS set-up would reach the emulator beside its keys.
USER_AWS_VARIABLES = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")


class EmulatorError(RuntimeError):
    """The emulator could not start, or stopped on its own; the message ends with its log."""


def binary() -> str:
    """The `pipelines-emulator` executable: `$PIPELINES_EMULATOR`, else the one installed
    beside this interpreter (the wheel's), else the first on PATH."""
    named = os.environ.get("PIPELINES_EMULATOR")
    if named:
        return named
    beside = Path(sysconfig.get_path("scripts")) / "pipelines-emulator"
    if beside.is_file():
        return str(beside)
    found = shutil.which("pipelines-emulator")
    if found:
        return found
    raise EmulatorError("pipelines-emulator not found: install the wheel, or set PIPELINES_EMULATOR to the binary")


def _die_with_parent() -> None:
    # Linux kills the emulator when the process that started it dies, even by SIGKILL;
    # the emulator's own children die with it the same way. Nothing is left running.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Emulator:
    """One running emulator (`pipelines-emulator up`), with a state folder of its own.

    `mocks` is a mock file's path; `functions` and `queue_functions` map NAME to COMMAND,
    `queues` NAME to a template queue's logical id (as `--function`, `--queue-function`,
    `--queue`); `template` names a SAM template other than the one that comes with it.
    """

    def __init__(
        self,
        *,
        mocks: Optional[os.PathLike | str] = None,
        functions: Optional[Mapping[str, str]] = None,
        queues: Optional[Mapping[str, str]] = None,
        queue_functions: Optional[Mapping[str, str]] = None,
        template: Optional[os.PathLike | str] = None,
        template_params: Optional[Mapping[str, str]] = None,
        run_code: bool = False,
        python: Optional[os.PathLike | str] = None,
        executable: Optional[str] = None,
        startup_timeout: float = 120.0,
    ):
        self._args = [executable or binary(), "up"]
        if template:
            self._args += ["--template", str(template)]
        for name, value in (template_params or {}).items():
            self._args += ["--template-param", f"{name}={value}"]
        if mocks:
            self._args += ["--mocks", str(mocks)]
        # The job steps' own code, in an interpreter of the user's (the running one by
        # default: the test's venv, with the pipeline's dependencies).
        if run_code:
            self._args += ["--run-code", "--python", str(python or sys.executable)]
        elif python:
            self._args += ["--python", str(python)]
        for flag, pairs in (("--function", functions), ("--queue", queues), ("--queue-function", queue_functions)):
            for name, value in (pairs or {}).items():
                self._args += [flag, f"{name}={value}"]
        self._startup_timeout = startup_timeout
        self._process: Optional[subprocess.Popen] = None
        self.state_dir: Optional[Path] = None
        self.endpoints: dict = {}

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> "Emulator":
        """Starts the emulator and waits until it serves; raises EmulatorError with its
        log when it cannot."""
        self.state_dir = Path(tempfile.mkdtemp(prefix="pipelines-emulator-"))
        env = dict(os.environ, EMULATOR_STATE_DIR=str(self.state_dir))
        self._log = open(self.state_dir / "emulator.log", "wb")
        self._process = subprocess.Popen(
            self._args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        endpoints = self.state_dir / "endpoints.json"
        deadline = time.monotonic() + self._startup_timeout
        while True:
            if self._process.poll() is not None:
                raise EmulatorError(f"pipelines-emulator exited with {self._process.returncode}:\n{self.log()}")
            with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
                self.endpoints = json.loads(endpoints.read_text())
                if self.endpoints.get("pid") == self._process.pid:
                    return self
            if time.monotonic() > deadline:
                self.stop()
                raise EmulatorError(f"pipelines-emulator did not serve within {self._startup_timeout} s:\n{self.log()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stops the emulator as Ctrl-C does (killed if it does not end within 30 s) and
        removes its state folder."""
        if self._process and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self.state_dir:
            self._log.close()
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self.state_dir = None

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log(self) -> str:
        """What the emulator printed so far: its endpoints, then every function's logs."""
        if not self.state_dir:
            return ""
        return (self.state_dir / "emulator.log").read_text(errors="replace")

    # -- the view --------------------------------------------------------------------

    @property
    def view_url(self) -> str:
        """The URL of the emulator's pipelines and executions in the browser; it carries
        the stack's token, so keep it to yourself."""
        return self.endpoints.get("view", "")

    def report(self, execution_arn: str, path) -> Path:
        """Writes an execution as one HTML file that opens from disk with no network
        (`pipelines-emulator report`), and answers its path."""
        path = Path(path)
        env = dict(os.environ, EMULATOR_STATE_DIR=str(self.state_dir))
        subprocess.run([binary(), "report", execution_arn, "-o", str(path)], env=env, check=True, capture_output=True)
        return path

    # -- clients -------------------------------------------------------------------

    @property
    def env(self) -> dict:
        """The environment that points AWS SDKs and the SageMaker SDK at the emulator
        (what `pipelines-emulator env` prints)."""
        return dict(self.endpoints.get("env", {}))

    @contextlib.contextmanager
    def environment(self) -> Iterator[dict]:
        """Puts `env` in os.environ for the block, hides the user's own session token
        and profile (a real token would otherwise ride along to the local endpoints,
        which refuse it), and restores all of it after."""
        saved = {key: os.environ.get(key) for key in [*self.env, *USER_AWS_VARIABLES]}
        for key in USER_AWS_VARIABLES:
            os.environ.pop(key, None)
        os.environ.update(self.env)
        try:
            yield self.env
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    @property
    def default_bucket(self) -> str:
        """The SageMaker SDK's default bucket on the emulator's S3."""
        return DEFAULT_BUCKET

    @property
    def role_arn(self) -> str:
        """A pipeline role that exists in the emulator's IAM, with SageMaker's trust
        policy (the 3.x SDK reads it)."""
        if not getattr(self, "_role_arn", None):
            iam = self.boto3_session().client("iam", endpoint_url=self.endpoints["moto"])
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
            try:
                self._role_arn = iam.create_role(RoleName="pipeline", AssumeRolePolicyDocument=json.dumps(trust))[
                    "Role"
                ]["Arn"]
            except iam.exceptions.EntityAlreadyExistsException:
                self._role_arn = iam.get_role(RoleName="pipeline")["Role"]["Arn"]
        return self._role_arn

    def boto3_session(self):
        """A boto3 session with the emulator's credentials and region; its clients reach the
        emulator while `environment()` (or the pytest fixture) is in effect."""
        import boto3

        env = self.env
        return boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
        )

    def pipeline_session(self):
        """A SageMaker `PipelineSession` (SDK 2.x or 3.x, whichever is installed) on that
        boto3 session, with the emulator's default bucket."""
        try:  # 3.x
            from sagemaker.core.workflow.pipeline_context import PipelineSession
        except ImportError:  # 2.x
            from sagemaker.workflow.pipeline_context import PipelineSession
        return PipelineSession(boto_session=self.boto3_session(), default_bucket=DEFAULT_BUCKET)
