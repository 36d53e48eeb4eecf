"""Queries that once crashed the Python process hosting the engine (a deep expression overflowed
its stack), hung it or took its memory now get typed errors through boto3, in this process and
against `ruuvistream serve` started by the console script, and the engine serves on."""

import subprocess
import sys

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import ruuvistream

CASES = [
    ("SELECT " + " OR ".join(["true"] * 1000), None),
    ("SELECT " + " + ".join(["1"] * 1000), "ValidationException"),
    ("SELECT " + " || ".join(["'a'"] * 5000), "ValidationException"),
    ("SELECT * FROM generate_series(1, 10000) a CROSS JOIN generate_series(1, 10000) b", "QueryExecutionException"),
    ("SELECT length(repeat('x', 1500000000))", "QueryExecutionException"),
    ("SELECT count(*) FROM generate_series(1, 200000000)", "ValidationException"),
    ("SELECT SEQUENCE(1, 20000)", "QueryExecutionException"),
    (
        "SELECT count(*) FROM generate_series(1, 10000) a, generate_series(1, 10000) b, generate_series(1, 10000) c",
        "QueryExecutionException",
    ),
]


def check(q) -> None:
    for sql, expected in CASES:
        if expected is None:
            assert q.query(QueryString=sql)["Rows"]
        else:
            with pytest.raises(ClientError) as info:
                q.query(QueryString=sql)
            assert info.value.response["Error"]["Code"] == expected, sql[:60]
            assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert q.query(QueryString="SELECT 1")["Rows"] == [{"Data": [{"ScalarValue": "1"}]}]


def test_in_this_process():
    with ruuvistream.LocalTimestream(query_memory_limit=256 << 20, query_timeout=3.0) as ts:
        check(ts.client("timestream-query", config=Config(retries={"max_attempts": 1})))


def test_against_a_server_process():
    cmd = [sys.executable, "-m", "ruuvistream._cli", "serve", "--port", "0"]
    cmd += ["--query-memory-limit", "256MiB", "--query-timeout", "3s"]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[-1]
        q = boto3.client(
            "timestream-query",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(retries={"max_attempts": 1}),
        )
        check(q)
        assert server.poll() is None, "the server is still running"
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0, "a clean shutdown on SIGTERM"
