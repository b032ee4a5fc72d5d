"""Live audits against a misbehaving endpoint: garbage, pagination that never ends, slowness.

A tiny HTTP server on 127.0.0.1 speaks just enough of IAM's query API (form-encoded POST,
XML answer) to be each kind of bad endpoint. The bounds are `iamlint.aws_limits`: timeouts
and attempts per request, calls per operation and a deadline per run (`CallBudget`), which a
client factory installs through its hooks; the last test runs the audit's own identity reader
through `iamlint.audit.clients.ClientFactory` with that hook. Each bound is asserted as work
(requests the endpoint saw, pages read, the error that stopped the client), never as elapsed
time: machines are noisy, and a test that reads no more than the bound allows cannot hang.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import boto3  # a test extra (`make test` installs it): missing, the tests fail rather than skip
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ReadTimeoutError
from botocore.parsers import ResponseParserError

from iamlint.audit.clients import ClientFactory
from iamlint.audit.coverage import Recorder
from iamlint.audit.identity import read_identity
from iamlint.aws_limits import AwsLimits, CallBudget, LimitExceeded, botocore_options

NS = "https://iam.amazonaws.com/doc/2010-05-08/"


def page(marker: str | None) -> bytes:
    more = f"<IsTruncated>true</IsTruncated><Marker>{marker}</Marker>" if marker else "<IsTruncated>false</IsTruncated>"
    return (
        f'<GetAccountAuthorizationDetailsResponse xmlns="{NS}"><GetAccountAuthorizationDetailsResult>'
        f"<UserDetailList/><GroupDetailList/><RoleDetailList/><Policies/>{more}"
        "</GetAccountAuthorizationDetailsResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
        "</GetAccountAuthorizationDetailsResponse>"
    ).encode()


class BadIam(BaseHTTPRequestHandler):
    mode = "endless"
    requests = itertools.count()

    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
        assert form["Action"] == ["GetAccountAuthorizationDetails"]
        n = next(self.requests)
        if self.mode == "slow":
            time.sleep(3)
        body = {
            "endless": lambda: page(f"token-{n}"),
            "garbage": lambda: os.urandom(512),
            "half-xml": lambda: page("x")[:60],
            "slow": lambda: page(None),
        }[self.mode]()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the slow case): that is the point

    def log_message(self, *args: Any) -> None:
        del args


@pytest.fixture()
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[BadIam]]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }.items():
        monkeypatch.setenv(key, value)
    handler = type("Handler", (BadIam,), {"requests": itertools.count()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def iam_client(url: str, limits: AwsLimits) -> Any:
    return boto3.session.Session().client(
        "iam", region_name="us-east-1", endpoint_url=url, config=Config(**botocore_options(limits))
    )


def test_pagination_that_never_ends_is_cut_at_the_page_limit(endpoint: type[BadIam]) -> None:
    budget = CallBudget(AwsLimits(max_calls_per_operation=25))
    client = iam_client(endpoint.url, budget.limits)  # type: ignore[attr-defined]
    budget.install(client)
    pages = 0
    endless = client.get_paginator("get_account_authorization_details").paginate()
    with pytest.raises(LimitExceeded, match="more than 25 times"):
        for _ in itertools.islice(endless, 26):  # one page past the limit, never more
            pages += 1
    assert pages == 25
    assert next(endpoint.requests) == 25  # the 26th request was never sent


def test_the_deadline_stops_every_further_call(endpoint: type[BadIam]) -> None:
    now = [0.0]
    budget = CallBudget(AwsLimits(deadline=100), clock=lambda: now[0])
    client = iam_client(endpoint.url, budget.limits)  # type: ignore[attr-defined]
    budget.install(client)
    pages = client.get_paginator("get_account_authorization_details").paginate()
    iterator = iter(pages)
    next(iterator)
    now[0] = 101.0
    with pytest.raises(LimitExceeded, match="past its deadline of 100 s"):
        next(iterator)


@pytest.mark.parametrize("mode", ["garbage", "half-xml"])
def test_garbage_answers_are_recorded_as_gaps_not_crashes_or_hangs(endpoint: type[BadIam], mode: str) -> None:
    endpoint.mode = mode
    # The call budget turns a reader that keeps asking into a gap "called more than 3 times"
    # after three requests, so that the test fails on the count below instead of hanging.
    budget = CallBudget(AwsLimits(max_calls_per_operation=3))
    factory = ClientFactory(
        boto3.session.Session(),
        account="111122223333",
        region="us-east-1",
        endpoint_url=endpoint.url,
        max_attempts=2,  # type: ignore[attr-defined]
        hooks=[budget.hook],
    )
    snapshot: dict[str, Any] = {"iamlint": {}}
    recorder = Recorder("111122223333")
    assert read_identity(factory, recorder, snapshot) is False
    [gap] = recorder.gaps
    assert "unreadable response" in gap.message
    # A response that cannot be parsed is not retried (botocore retries only what may succeed
    # the next time), nor read again by the audit: one request, within the two attempts.
    assert next(endpoint.requests) == 1
    assert budget.calls[("iam", "GetAccountAuthorizationDetails")] == 1
    with pytest.raises((BotoCoreError, ResponseParserError)):
        iam_client(endpoint.url, AwsLimits(max_attempts=1)).get_account_authorization_details()  # type: ignore[attr-defined]


def test_slow_answers_time_out_within_the_attempts(endpoint: type[BadIam]) -> None:
    endpoint.mode = "slow"
    limits = AwsLimits(read_timeout=0.5, connect_timeout=0.5, max_attempts=2)
    client = iam_client(endpoint.url, limits)  # type: ignore[attr-defined]
    sent: list[str] = []
    client.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
    # The server takes 3 s an answer: without the read timeout the call would succeed, without
    # the attempt limit botocore would go on trying. Neither is a matter of the machine's pace.
    with pytest.raises(ReadTimeoutError):
        client.get_account_authorization_details()
    assert len(sent) == limits.max_attempts


def test_audit_identity_reader_through_the_factory_hook_stops_an_endless_dump(endpoint: type[BadIam]) -> None:
    budget = CallBudget(AwsLimits(max_calls_per_operation=10))
    factory = ClientFactory(
        boto3.session.Session(),
        account="111122223333",
        region="us-east-1",
        endpoint_url=endpoint.url,
        max_attempts=1,
        hooks=[budget.hook],
    )  # type: ignore[attr-defined]
    snapshot: dict[str, Any] = {"iamlint": {}}
    recorder = Recorder("111122223333")
    finished = read_identity(factory, recorder, snapshot)
    assert finished is False  # reported as unread, not looped on
    assert budget.calls[("iam", "GetAccountAuthorizationDetails")] == 11
    assert any("more than 10 times" in gap.message for gap in recorder.gaps)
