"""Usage: which granted permissions were used, from IAM Access Advisor and CloudTrail.

Access Advisor (`GenerateServiceLastAccessedDetails` with `ACTION_LEVEL` granularity, then
`GetServiceLastAccessedDetails`) lists, for one user or role, every service its policies allow
and when it last authenticated to each, over a tracking period of up to 400 days; for some
services it also lists the tracked actions and when each was last used. Jobs are started for
every principal first and then collected, as AWS runs them in the background. Service-linked
roles are left out: AWS owns their permissions.

CloudTrail's `LookupEvents` (`--cloudtrail-lookup DAYS`, at most 90) returns MANAGEMENT events
only: S3 object reads and writes, DynamoDB item calls, Lambda invocations and SQS messages are
data events and never appear there. Events are counted per principal (the role that issued an
assumed-role session, or the user) and per call, not kept one by one.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from iamlint.audit.clients import ClientFactory
from iamlint.audit.coverage import ERROR, TRUNCATED, Recorder

GLOBAL = "global"
SERVICE_LINKED_PATH = "/aws-service-role/"
Sleep = Callable[[float], None]


def principals_for_advisor(snapshot: Mapping[str, Any]) -> list[str]:
    """ARNs of the users and roles Access Advisor should report on."""
    out = [u["Arn"] for u in snapshot.get("UserDetailList", ()) if isinstance(u, Mapping) and u.get("Arn")]
    out += [
        r["Arn"]
        for r in snapshot.get("RoleDetailList", ())
        if isinstance(r, Mapping) and r.get("Arn") and not str(r.get("Path", "")).startswith(SERVICE_LINKED_PATH)
    ]
    return out


def read_access_advisor(
    factory: ClientFactory,
    rec: Recorder,
    arns: list[str],
    out: dict[str, Any],
    sleep: Sleep = time.sleep,
    timeout: float = 900.0,
) -> None:
    iam = factory.client("iam")
    jobs: dict[str, str] = {}
    for arn in arns:
        with rec.attempt(GLOBAL, "iam:GenerateServiceLastAccessedDetails", arn) as attempt:
            jobs[arn] = iam.generate_service_last_accessed_details(Arn=arn, Granularity="ACTION_LEVEL")["JobId"]
        if attempt.failed:
            # The same answer would come for every other principal (denied, or not supported).
            rest = len(arns) - len(jobs) - 1
            if rest > 0:
                rec.add(
                    GLOBAL,
                    "iam:GenerateServiceLastAccessedDetails",
                    attempt.kind,
                    f"not requested for the {rest} other principals after this failure",
                )
            break
    deadline = time.monotonic() + timeout
    delay = 0.5
    pending = dict(jobs)
    while pending:
        for arn, job in list(pending.items()):
            with rec.attempt(GLOBAL, "iam:GetServiceLastAccessedDetails", arn) as attempt:
                result = _job_result(iam, job)
                if result is not None:
                    out[arn] = result
                    del pending[arn]
            if attempt.failed:
                del pending[arn]
        if pending:
            if time.monotonic() > deadline:
                for arn in pending:
                    rec.add(
                        GLOBAL,
                        "iam:GetServiceLastAccessedDetails",
                        TRUNCATED,
                        f"the Access Advisor job did not finish within {timeout:.0f} seconds",
                        arn,
                    )
                return
            sleep(delay)
            delay = min(delay * 2, 10.0)


def _job_result(iam: Any, job: str) -> dict[str, Any] | None:
    """The whole report of a finished job (all pages); None while it runs."""
    services: list[Any] = []
    marker: str | None = None
    while True:
        page = iam.get_service_last_accessed_details(JobId=job, **({"Marker": marker} if marker else {}))
        status = page.get("JobStatus")
        if status == "IN_PROGRESS":
            return None
        if status == "FAILED":
            err = page.get("Error") or {}
            return {"status": "FAILED", "error": f"{err.get('Code', '')}: {err.get('Message', '')}", "services": []}
        services.extend(page.get("ServicesLastAccessed", ()))
        if not page.get("IsTruncated"):
            return {
                "status": status,
                "granularity": page.get("JobType", "ACTION_LEVEL"),
                "completed": page.get("JobCompletionDate"),
                "services": services,
            }
        marker = page.get("Marker")


def read_cloudtrail(
    factory: ClientFactory, rec: Recorder, region: str, days: int, out: dict[str, Any], max_events: int
) -> None:
    """Management events of the last `days` days in `region`, counted per principal and call."""
    end = datetime.datetime.now(datetime.UTC)
    start = end - datetime.timedelta(days=days)
    principals: dict[str, dict[tuple[str, str, str], dict[str, Any]]] = {}
    seen = 0
    unreadable = 0
    first_why = ""
    with rec.attempt(region, "cloudtrail:LookupEvents") as attempt:
        pages = factory.client("cloudtrail", region).get_paginator("lookup_events")
        for page in pages.paginate(StartTime=start, EndTime=end):
            for event in page.get("Events", ()):
                seen += 1
                why = _count(event, principals)
                if why is not None:
                    unreadable += 1
                    first_why = first_why or why
            if seen >= max_events:
                rec.add(
                    region,
                    "cloudtrail:LookupEvents",
                    TRUNCATED,
                    f"stopped after {seen} events (--cloudtrail-max-events); older events were not read",
                )
                break
    if unreadable:
        rec.add(
            region,
            "cloudtrail:LookupEvents",
            ERROR,
            f"{unreadable} of {seen} events had an unreadable CloudTrailEvent record, the first {first_why}; "
            "they were counted from the event's own EventName, EventSource and Username, so calls made "
            "through an assumed role may be counted under the session's name instead of the role",
        )
    if attempt.failed and not seen:
        return
    trail = out.setdefault("principals", {})
    for who, calls in principals.items():
        trail.setdefault(who, []).extend(calls.values())
    out["events"] = int(out.get("events", 0)) + seen
    out.setdefault("regions", []).append(region)


def _record(event: Mapping[str, Any]) -> tuple[Mapping[str, Any], str | None]:
    """The event's CloudTrailEvent record, and why it could not be read (None when it could).

    The endpoint is not trusted to send what AWS documents: the record may be missing, not text,
    not JSON, nested past what the parser allows, or JSON that is not an object."""
    raw = event.get("CloudTrailEvent")
    where = f"(event {event.get('EventId', '?')})"
    if raw is None or raw == "":
        return {}, None  # not sent: the event's own fields are all there is, as before
    if not isinstance(raw, (str, bytes, bytearray)):
        return {}, f"{where} is {type(raw).__name__}, not JSON text"
    try:
        record = json.loads(raw)
    except RecursionError:  # nested too deep
        return {}, f"{where} is JSON nested too deep"
    except ValueError as exc:  # includes UnicodeDecodeError of bytes
        return {}, f"{where} is not JSON ({exc})"
    if not isinstance(record, dict):
        return {}, f"{where} is JSON but not an object"
    return record, None


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(event: Mapping[str, Any], principals: dict[str, dict[tuple[str, str, str], dict[str, Any]]]) -> str | None:
    """Counts one event; returns why its record could not be read, when it could not."""
    record, why = _record(event)
    identity = _object(record.get("userIdentity"))
    issuer = _object(_object(identity.get("sessionContext")).get("sessionIssuer"))
    who = issuer.get("arn") or identity.get("arn") or event.get("Username") or "unknown"
    source = str(record.get("eventSource") or event.get("EventSource") or "")
    name = str(record.get("eventName") or event.get("EventName") or "")
    region = str(record.get("awsRegion") or "")
    when = record.get("eventTime") or event.get("EventTime")
    when = when.isoformat() if isinstance(when, datetime.datetime) else str(when or "")
    entry = principals.setdefault(str(who), {}).setdefault(
        (source, name, region),
        {"source": source, "name": name, "region": region, "count": 0, "errors": 0, "first": when, "last": when},
    )
    entry["count"] += 1
    entry["errors"] += bool(record.get("errorCode"))
    entry["first"] = min(entry["first"], when) if when else entry["first"]
    entry["last"] = max(entry["last"], when) if when else entry["last"]
    return why
