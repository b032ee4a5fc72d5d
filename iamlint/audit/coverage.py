"""Coverage: what an audit could not read, and why. Nothing unreadable is skipped silently.

Each failed read becomes a `Gap` naming the account, region, operation, the resource when one
was being read, and a kind: access denied, throttled past the retries, region not enabled,
operation unsupported by the endpoint (emulators), endpoint unreachable, truncated, or another
error. Gaps are saved in the snapshot, shown in every report, and make the exit status 2 unless
`--allow-partial`. An account that is not active (suspended, closing) cannot be read at all; it
is listed as a note that does not make coverage incomplete.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from iamlint.audit.clients import ReadOnlyViolation

ACCESS_DENIED = "access-denied"
THROTTLED = "throttled"
REGION_DISABLED = "region-disabled"
UNSUPPORTED = "unsupported"
UNREACHABLE = "unreachable"
TRUNCATED = "truncated"
ERROR = "error"
INTERNAL = "internal-error"  # a bug in iamlint while reading one account: exit 2 whatever the flags
INACTIVE = "inactive"  # a note, not a gap in coverage
KINDS = (ACCESS_DENIED, THROTTLED, REGION_DISABLED, UNSUPPORTED, UNREACHABLE, TRUNCATED, ERROR, INTERNAL, INACTIVE)

_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "AuthorizationError",
        "AuthorizationErrorException",
        "Forbidden",
        "ForbiddenException",
        "AWSOrganizationsNotInUseException",
        "AccessDeniedForDependencyException",
    }
)
# botocore's own list of throttling codes (botocore.retries.standard), plus SQS's and SNS's.
_THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "Throttled",
    }
)
# What AWS answers in a region the account has not opted in to: the region's STS does not
# know the credentials (AWS General Reference, "Specify which AWS Regions your account can use").
_REGION_OFF = frozenset({"UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure", "OptInRequired"})
_UNSUPPORTED = frozenset(
    {"NotImplemented", "NotImplementedException", "InvalidAction", "UnknownOperationException", "UnsupportedOperation"}
)


@dataclass(frozen=True, slots=True)
class Gap:
    account: str
    region: str  # "global" for IAM, Organizations, S3 listing
    operation: str  # the IAM permission the read needs, e.g. "s3:ListAllMyBuckets" for ListBuckets
    kind: str
    message: str
    resource: str = ""  # the bucket, function... being read, when one

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v != ""}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], account: str) -> Gap:
        return cls(
            account=str(raw.get("account") or account),
            region=str(raw.get("region", "")),
            operation=str(raw.get("operation", "")),
            kind=str(raw.get("kind", ERROR)),
            message=str(raw.get("message", "")),
            resource=str(raw.get("resource", "")),
        )

    @property
    def incomplete(self) -> bool:
        return self.kind != INACTIVE

    def render(self) -> str:
        what = f" {self.resource}" if self.resource else ""
        return f"{self.account} {self.region} {self.operation}{what}: {self.kind}: {self.message}"


def classify(exc: BaseException) -> tuple[str, str]:
    """The gap kind and a one-line message for an exception raised by a botocore call."""
    from botocore.exceptions import (  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415 - only live audits get here
        ClientError,
        ConnectionError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )
    from botocore.parsers import ResponseParserError  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = " ".join(str(err.get("Message", "")).split())[:300]
        tries = exc.response.get("ResponseMetadata", {}).get("RetryAttempts")
        if code in _DENIED or code.endswith("AccessDenied"):
            return ACCESS_DENIED, f"{code}: {message}"
        if code in _THROTTLED:
            return THROTTLED, f"{code} after {1 + (tries or 0)} attempts (adaptive retries): {message}"
        if code in _REGION_OFF:
            return (
                REGION_DISABLED,
                f"{code}: the region is not enabled for this account, or the credentials are not valid there",
            )
        if code in _UNSUPPORTED or (code.isdigit() and status in (500, 501) and "<html" in message.lower()):
            return UNSUPPORTED, (
                f"{code}: the endpoint does not implement this operation (emulators such "
                "as moto answer HTTP 500 for operations they lack)"
            )
        return ERROR, f"{code}: {message}"
    if isinstance(exc, ResponseParserError):
        if "<html" in str(exc).lower():
            return UNSUPPORTED, (
                "the endpoint answered with an HTML error page instead of an API response "
                "(emulators such as moto do so for operations they lack)"
            )
        return ERROR, f"unreadable response: {str(exc)[:300]}"
    if isinstance(exc, (EndpointConnectionError, ConnectionError, ReadTimeoutError)):
        return UNREACHABLE, str(exc)
    if isinstance(exc, NoCredentialsError):
        return ACCESS_DENIED, str(exc)
    return ERROR, f"{type(exc).__name__}: {exc}"


class Attempt:
    failed: bool = False
    kind: str = ""


class Stopped(KeyboardInterrupt):
    """The user interrupted the audit: the next read of every account raises this instead."""


class Recorder:
    """Collects the gaps of one account's reads; readers wrap each call in `attempt`."""

    def __init__(self, account: str, stop: threading.Event | None = None) -> None:
        self.account = account
        self.gaps: list[Gap] = []
        self.stop = stop
        self._lock = threading.Lock()

    def add(self, region: str, operation: str, kind: str, message: str, resource: str = "") -> None:
        with self._lock:
            self.gaps.append(Gap(self.account, region, operation, kind, message, resource))

    @contextmanager
    def attempt(self, region: str, operation: str, resource: str = "") -> Iterator[Attempt]:
        """Run a read; a failure becomes a gap and the block is left. Bugs are not swallowed."""
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415
        from botocore.parsers import ResponseParserError  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415

        if self.stop is not None and self.stop.is_set():
            raise Stopped
        state = Attempt()
        try:
            yield state
        except ReadOnlyViolation:
            raise
        except (ClientError, BotoCoreError, ResponseParserError) as exc:
            state.failed = True
            state.kind, message = classify(exc)
            self.add(region, operation, state.kind, message, resource)
