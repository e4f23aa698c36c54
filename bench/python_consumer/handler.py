"""The Python boto3 consumer that callback-queue is measured against.

It does the benchmark's work the same way: read the SQS batch, read each callback
message (a token that cannot be read is left for the DLQ), report the step's failure for
an unknown task to SageMaker with a deterministic ClientRequestToken, and log one line
per message. Written as a
careful Python engineer would: the clients (SageMaker, EventBridge, EMR, as callback-queue
builds) are made once at init, reports of one batch run in parallel threads over pooled
connections, and nothing is imported or built per invocation.
"""

import hashlib
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

_CONFIG = Config(retries={"mode": "standard"}, max_pool_connections=10)
SAGEMAKER = boto3.client("sagemaker", config=_CONFIG)
EVENTS = boto3.client("events", config=_CONFIG)
EMR = boto3.client("emr", config=_CONFIG)
POOL = ThreadPoolExecutor(max_workers=10)

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

TOKEN = re.compile(r"^[A-Za-z0-9]{10}$")
TASKS = ("event", "emr")
NO_LONGER_WAITING = ("ResourceNotFound", "ConflictException")


def _report_failure(token, reason):
    request_token = hashlib.sha256(f"{token}\0failure\0{reason}".encode()).hexdigest()
    try:
        SAGEMAKER.send_pipeline_execution_step_failure(
            CallbackToken=token, FailureReason=reason[:256], ClientRequestToken=request_token
        )
    except ClientError as error:
        if error.response["Error"]["Code"] not in NO_LONGER_WAITING:
            raise


def _handle(record):
    """None when done with the record, else its message id (to retry)."""
    try:
        message = json.loads(record["body"])
        token = message["token"]
    except (ValueError, TypeError, KeyError):
        return record["messageId"]
    if not isinstance(token, str) or not TOKEN.match(token):
        return record["messageId"]
    task = (message.get("arguments") or {}).get("task")
    if task in TASKS:
        return None
    reason = f"unknown task '{task}'; tasks: {', '.join(TASKS)}"
    try:
        _report_failure(token, reason)
    except Exception:  # throttling, 5xx: the message comes back
        LOG.warning("report failed; will be retried: token=%s", token)
        return record["messageId"]
    # One line per message, the outcome's, as callback-queue logs.
    LOG.info("step reported: outcome=failure token=%s reason=%s", token, reason)
    return None


def handler(event, _context):
    failures = [message_id for message_id in POOL.map(_handle, event["Records"]) if message_id]
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}
