"""Who gets into the engine, through boto3, the AWS CLI and ruuvistream's own client: access keys
with read and write grants (from a mapping or a credentials file), wrong secrets, unknown keys,
a skewed clock, unsigned requests, HTTPS, and an engine that will not serve the network open."""

import datetime as dt
import json
import os
import pathlib
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
import botocore.auth
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import ruuvistream

TLS = pathlib.Path(__file__).parent.parent / "data" / "tls"
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})

KEYS = {
    "ADMIN": "admin-secret",
    "GRAFANA": {"secret": "grafana-secret", "read": ["ruuvi"]},
    "BRIDGE": {"secret": "bridge-secret", "write": "ruuvi"},
}


def code(info: pytest.ExceptionInfo) -> str:
    return info.value.response["Error"]["Code"]


def record(when: dt.datetime) -> dict:
    return {
        "Dimensions": [{"Name": "location", "Value": "sauna"}],
        "MeasureName": "temperature",
        "MeasureValue": "81.5",
        "Time": str(int(when.timestamp() * 1000)),
    }


@pytest.fixture(scope="module")
def engine():
    with ruuvistream.LocalTimestream(credentials=KEYS) as ts:
        w = ts.client("timestream-write")  # signs as the first key, ADMIN
        w.create_database(DatabaseName="ruuvi")
        w.create_database(DatabaseName="private")
        w.create_table(DatabaseName="ruuvi", TableName="sensors")
        w.write_records(DatabaseName="ruuvi", TableName="sensors", Records=[record(dt.datetime.now(dt.timezone.utc))])
        yield ts


def client(engine, service, key, secret, **kw):
    return engine.client(service, aws_access_key_id=key, aws_secret_access_key=secret, config=NO_RETRIES, **kw)


def test_a_read_only_key_reads_what_it_may_and_writes_nothing(engine):
    w = client(engine, "timestream-write", "GRAFANA", "grafana-secret")
    q = client(engine, "timestream-query", "GRAFANA", "grafana-secret")
    assert [d["DatabaseName"] for d in w.list_databases()["Databases"]] == ["ruuvi"]
    assert q.query(QueryString="SELECT count(*) FROM ruuvi.sensors")["Rows"][0]["Data"][0]["ScalarValue"] == "1"
    with pytest.raises(ClientError) as info:
        w.write_records(DatabaseName="ruuvi", TableName="sensors", Records=[record(dt.datetime.now(dt.timezone.utc))])
    assert code(info) == "AccessDeniedException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "timestream:WriteRecords" in str(info.value)
    with pytest.raises(ClientError) as info:
        q.query(QueryString="SELECT * FROM private.anything")
    assert code(info) == "AccessDeniedException"
    with pytest.raises(ClientError) as info:
        w.delete_table(DatabaseName="ruuvi", TableName="sensors")
    assert code(info) == "AccessDeniedException"


def test_a_write_key_writes_its_database_only(engine):
    w = client(engine, "timestream-write", "BRIDGE", "bridge-secret")
    out = w.write_records(DatabaseName="ruuvi", TableName="sensors", Records=[record(dt.datetime.now(dt.timezone.utc))])
    assert out["RecordsIngested"]["Total"] == 1
    with pytest.raises(ClientError) as info:
        w.create_table(DatabaseName="private", TableName="t")
    assert code(info) == "AccessDeniedException"


def test_wrong_secrets_and_unknown_keys_are_refused_as_aws_refuses_them(engine):
    with pytest.raises(ClientError) as info:
        client(engine, "timestream-write", "ADMIN", "wrong").list_databases()
    assert code(info) == "InvalidSignatureException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as info:
        client(engine, "timestream-query", "NOBODY", "whatever").query(QueryString="SELECT 1")
    assert code(info) == "UnrecognizedClientException"
    # Our own client, with the right key and with an unknown one.
    url = engine.endpoint_url
    ts = ruuvistream.Timestream(url, aws_access_key_id="GRAFANA", aws_secret_access_key="grafana-secret")
    assert ts.query("SELECT 1 AS one").to_arrow().column("one").to_pylist() == [1]
    stranger = ruuvistream.Timestream(url, max_attempts=1, aws_access_key_id="X", aws_secret_access_key="y")
    with pytest.raises(ruuvistream.TimestreamError) as caught:
        stranger.query("SELECT 1")
    assert caught.value.code == "UnrecognizedClientException"


def test_a_clock_off_by_more_than_15_minutes_is_refused(engine, monkeypatch):
    w = client(engine, "timestream-write", "ADMIN", "admin-secret")
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real() - dt.timedelta(minutes=20))
    with pytest.raises(ClientError) as info:
        w.list_databases()
    assert code(info) == "InvalidSignatureException" and "Signature expired" in str(info.value)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real() + dt.timedelta(minutes=5))
    assert w.list_databases()["Databases"]


def test_unsigned_requests_are_refused(engine):
    req = urllib.request.Request(engine.endpoint_url, data=b"{}", method="POST")
    req.add_header("Content-Type", "application/x-amz-json-1.0")
    req.add_header("X-Amz-Target", "Timestream_20181101.ListDatabases")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=30)
    assert info.value.code == 400
    assert json.loads(info.value.read())["__type"].endswith("MissingAuthenticationTokenException")


def test_a_credentials_file_limits_each_key(tmp_path):
    keys = tmp_path / "credentials"
    keys.write_text(
        "[admin]\naws_access_key_id = A\naws_secret_access_key = a-secret\n\n"
        "[reader]\naws_access_key_id = R\naws_secret_access_key = r-secret\nread = *\n"
    )
    with ruuvistream.LocalTimestream(credentials=keys) as ts:
        client(ts, "timestream-write", "A", "a-secret").create_database(DatabaseName="ruuvi")
        reader = client(ts, "timestream-write", "R", "r-secret")
        assert [d["DatabaseName"] for d in reader.list_databases()["Databases"]] == ["ruuvi"]
        with pytest.raises(ClientError) as info:
            reader.create_database(DatabaseName="more")
        assert code(info) == "AccessDeniedException"
    keys.write_text("[admin]\naws_access_key_id = A\naws_secret_access_key = a\nwirte = ruuvi\n")
    with pytest.raises(ValueError, match="wirte"):
        ruuvistream.LocalTimestream(credentials=keys)


def test_the_network_is_served_only_with_keys_or_when_asked():
    with pytest.raises(ValueError, match="refusing to serve"):
        ruuvistream.LocalTimestream(bind="0.0.0.0")
    with ruuvistream.LocalTimestream(bind="0.0.0.0", allow_anonymous=True) as ts:
        port = ts.endpoint_url.rsplit(":", 1)[1]
        w = boto3.client(
            "timestream-write",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="any",
            aws_secret_access_key="any",
        )
        # DescribeEndpoints names the address this client used, never 0.0.0.0.
        assert w.describe_endpoints()["Endpoints"][0]["Address"] == f"127.0.0.1:{port}"
    with ruuvistream.LocalTimestream(bind="0.0.0.0", credentials={"K": "s"}) as ts:
        assert ts.endpoint_url.startswith("http://0.0.0.0:")


def test_https_with_boto3(engine):
    with ruuvistream.LocalTimestream(credentials=KEYS, tls=(TLS / "server.pem", TLS / "server.key")) as ts:
        assert ts.endpoint_url.startswith("https://127.0.0.1:")
        w = ts.client("timestream-write", verify=str(TLS / "ca.pem"))
        w.create_database(DatabaseName="secure")
        assert [d["DatabaseName"] for d in w.list_databases()["Databases"]] == ["secure"]

        # ruuvistream's own client and CLI trust the private CA when given its file.
        keys = {"aws_access_key_id": "ADMIN", "aws_secret_access_key": "admin-secret", "max_attempts": 1}
        client = ruuvistream.Timestream(ts.endpoint_url, **keys, ca_file=TLS / "ca.pem")
        assert client.query("SHOW DATABASES").to_arrow().column(0).to_pylist() == ["secure"]
        with pytest.raises(ruuvistream.TimestreamConnectionError, match=r"UnknownIssuer.*--ca-file"):
            ruuvistream.Timestream(ts.endpoint_url, **keys).query("SHOW DATABASES").to_arrow()
        with pytest.raises(ValueError, match=r"server\.key: no CERTIFICATE block found"):
            ruuvistream.Timestream(ts.endpoint_url, **keys, ca_file=TLS / "server.key")
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "ADMIN", "AWS_SECRET_ACCESS_KEY": "admin-secret"}
        exe = shutil.which("ruuvistream")
        assert exe, "the ruuvistream console script is installed with the package"
        cli = [exe, "query", "--endpoint-url", ts.endpoint_url, "SHOW DATABASES"]
        out = subprocess.run([*cli, "--ca-file", str(TLS / "ca.pem")], env=env, capture_output=True, text=True)
        assert out.returncode == 0 and "secure" in out.stdout, out.stderr


AWS = shutil.which("aws") or (shutil.which("aws", path=os.path.dirname(sys.executable)))


@pytest.mark.skipif(AWS is None, reason="the AWS CLI is not installed")
def test_the_aws_cli_with_keys(engine):
    def cli(key, secret, *args):
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_MAX_ATTEMPTS": "1",
        }
        return subprocess.run(
            [AWS, *args, "--endpoint-url", engine.endpoint_url, "--output", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    ok = cli("ADMIN", "admin-secret", "timestream-write", "list-databases")
    assert ok.returncode == 0, ok.stderr
    assert {d["DatabaseName"] for d in json.loads(ok.stdout)["Databases"]} == {"ruuvi", "private"}
    wrong = cli("ADMIN", "nope", "timestream-write", "list-databases")
    assert wrong.returncode != 0 and "InvalidSignatureException" in wrong.stderr
    unknown = cli("NOBODY", "nope", "timestream-query", "query", "--query-string", "SELECT 1")
    assert unknown.returncode != 0 and "UnrecognizedClientException" in unknown.stderr
    read_only = cli("GRAFANA", "grafana-secret", "timestream-write", "create-database", "--database-name", "x")
    assert read_only.returncode != 0 and "AccessDeniedException" in read_only.stderr
    rows = cli("GRAFANA", "grafana-secret", "timestream-query", "query", "--query-string", "SELECT 1 AS one")
    assert rows.returncode == 0, rows.stderr
    assert json.loads(rows.stdout)["Rows"] == [{"Data": [{"ScalarValue": "1"}]}]


def test_the_aws_cli_with_a_skewed_clock(engine, monkeypatch, capsys):
    # The AWS CLI's own driver, run in this process so that its signing clock can be moved.
    awscli = pytest.importorskip("awscli.clidriver")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ADMIN")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "admin-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    args = ["timestream-write", "list-databases", "--endpoint-url", engine.endpoint_url, "--output", "json"]
    assert awscli.create_clidriver().main(args) == 0
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real() - dt.timedelta(minutes=20))
    capsys.readouterr()
    assert awscli.create_clidriver().main(args) != 0
    err = capsys.readouterr().err
    assert "InvalidSignatureException" in err and "Signature expired" in err, err
