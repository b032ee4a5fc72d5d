"""The one way iamlint talks to AWS: clients that can only read.

Every client the audit uses comes from `ClientFactory.client`, which registers a handler for
botocore's `before-call` event on it. botocore emits that event for every API call (paginators
and botocore's own helper calls included) before the request is signed or sent; the handler
checks the operation against `ALLOWED` and raises `ReadOnlyViolation` for anything else, so a
call that is not on the list never leaves the machine. The list holds the operations the audit
needs and nothing more; `tests/test_audit_safety.py` proves each one reads.

Retries use botocore's adaptive mode (client-side rate limiting on top of exponential backoff
with jitter), which slows a client down when AWS answers with throttling errors. Every client is
also bounded by `iamlint.aws_limits`: timeouts and attempts per request, and a `CallBudget` that
refuses a call past the calls allowed per operation (a pagination that never ends) or past the
run's deadline. Each account has its own call counts (an organisation's accounts together make
more calls than one account's bound), and every account shares the deadline of the run.
"""

from __future__ import annotations

import datetime
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from iamlint import __version__

if TYPE_CHECKING:  # aws_limits imports botocore: only live audits may import it
    from iamlint.aws_limits import AwsLimits, CallBudget

# botocore service name -> operations the audit may call.
ALLOWED: Mapping[str, frozenset[str]] = {
    "sts": frozenset({"GetCallerIdentity", "AssumeRole"}),
    "organizations": frozenset({"ListAccounts"}),
    "iam": frozenset(
        {
            "GetAccountAuthorizationDetails",
            "GenerateServiceLastAccessedDetails",
            "GetServiceLastAccessedDetails",
        }
    ),
    "ec2": frozenset({"DescribeRegions", "DescribeInstances"}),
    "lambda": frozenset({"ListFunctions", "GetPolicy"}),
    "ecs": frozenset({"ListTaskDefinitionFamilies", "DescribeTaskDefinition"}),
    "stepfunctions": frozenset({"ListStateMachines", "DescribeStateMachine"}),
    "s3": frozenset({"ListBuckets", "GetBucketLocation", "GetBucketPolicy", "HeadBucket"}),
    "sqs": frozenset({"ListQueues", "GetQueueAttributes"}),
    "sns": frozenset({"ListTopics", "GetTopicAttributes"}),
    "kms": frozenset({"ListKeys", "GetKeyPolicy"}),
    "secretsmanager": frozenset({"ListSecrets", "GetResourcePolicy"}),
    "ecr": frozenset({"DescribeRepositories", "GetRepositoryPolicy"}),
    "cloudtrail": frozenset({"LookupEvents"}),
}

# Read-only by name: operations starting with one of these verbs only read (AWS API naming).
READ_VERBS = ("Get", "List", "Describe")

# Allowed operations whose name does not start with a read verb, and why each changes nothing.
READ_ONLY_BECAUSE: Mapping[str, str] = {
    "sts:AssumeRole": (
        "returns temporary credentials for a role in a member account (--org-role); it creates "
        "no resource and changes no permission (STS API Reference, AssumeRole)"
    ),
    "iam:GenerateServiceLastAccessedDetails": (
        "starts an Access Advisor report job whose result GetServiceLastAccessedDetails reads; "
        "it creates no resource and changes no permission (IAM API Reference)"
    ),
    "cloudtrail:LookupEvents": "reads CloudTrail's 90-day event history (a query despite its verb)",
    "s3:HeadBucket": (
        "botocore's S3 region redirector calls it to find a bucket's region when a request went "
        "to the wrong one; HEAD only reads (S3 API Reference, HeadBucket)"
    ),
}

ClientHook = Callable[[str, str, str, Any], None]  # (account, service, region, client)


class ReadOnlyViolation(RuntimeError):
    """An operation outside the allowlist was about to be called: a bug in iamlint, never sent."""

    def __init__(self, service: str, operation: str) -> None:
        super().__init__(
            f"refused {service}:{operation}: iamlint audit only calls the read operations "
            "in iamlint.audit.clients.ALLOWED"
        )
        self.service = service
        self.operation = operation


class SetupError(Exception):
    """The AWS session cannot be set up: unknown profile, no credentials, botocore missing."""


class CallLog:
    """Every operation called through the factory, counted (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[tuple[str, str]] = Counter()

    def add(self, service: str, operation: str) -> None:
        with self._lock:
            self.counts[(service, operation)] += 1

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())


def _guard(log: CallLog) -> Callable[..., None]:
    def before_call(model: Any, **_kwargs: Any) -> None:
        service = model.service_model.service_name
        if model.name not in ALLOWED.get(service, frozenset()):
            raise ReadOnlyViolation(service, model.name)
        log.add(service, model.name)

    return before_call


class ClientFactory:
    """Read-only clients for one account, one per (service, region), created on first use."""

    def __init__(
        self,
        session: Any,
        *,
        account: str,
        region: str,
        endpoint_url: str | None = None,
        max_attempts: int = 10,
        hooks: Sequence[ClientHook] = (),
        log: CallLog | None = None,
        limits: AwsLimits | None = None,
        budget: CallBudget | None = None,
    ) -> None:
        """`limits` default to `AwsLimits` with `max_attempts`, `budget` to a new one for them; a
        budget given brings its own limits (its `max_attempts` included)."""
        from iamlint.aws_limits import AwsLimits, CallBudget  # noqa: PLC0415 - imports botocore

        self.session = session
        self.account = account
        self.region = region
        self.endpoint_url = endpoint_url
        self.max_attempts = max_attempts
        self.hooks = tuple(hooks)
        self.log = log if log is not None else CallLog()
        if budget is None:
            budget = CallBudget(limits if limits is not None else AwsLimits(max_attempts=max_attempts))
        self.budget = budget
        self.max_attempts = budget.limits.max_attempts
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str | None = None) -> Any:
        region = region or self.region
        key = (service, region)
        with self._lock:  # boto3 sessions are not thread-safe when creating clients
            found = self._clients.get(key)
            if found is None:
                found = self._clients[key] = self._create(service, region)
            return found

    def _create(self, service: str, region: str) -> Any:
        from botocore.config import Config  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415 - boto3 only for live audits

        from iamlint.aws_limits import botocore_options  # noqa: PLC0415

        config = Config(
            # Timeouts, and adaptive retries with total_max_attempts (the initial call included).
            **botocore_options(self.budget.limits),
            user_agent_extra=f"iamlint/{__version__} audit",
            # Emulators listen on one host: bucket names cannot be host names there.
            s3={"addressing_style": "path"} if self.endpoint_url else None,
        )
        client = self.session.client(service, region_name=region, endpoint_url=self.endpoint_url, config=config)
        client.meta.events.register("before-call", _guard(self.log), unique_id="iamlint-read-only")
        for hook in self.hooks:
            hook(self.account, service, region, client)
        # After the guard, so that a refused operation is never counted; after the hooks, so that
        # a budget a hook installs (`CallBudget.hook`) replaces this one: botocore keeps the first
        # handler registered under one unique_id.
        self.budget.install(client)
        return client

    def assume(self, account: str, role_name: str, partition: str = "aws") -> ClientFactory:
        """A factory for `account` with the credentials of `role_name` there, refreshed as they expire."""
        import botocore.session  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415
        from boto3 import Session  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415
        from botocore.credentials import RefreshableCredentials  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415

        sts = self.client("sts")
        role_arn = f"arn:{partition}:iam::{account}:role/{role_name}"

        def fetch() -> dict[str, str]:
            creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="iamlint-audit")["Credentials"]
            expiry = creds["Expiration"]
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": expiry.isoformat() if isinstance(expiry, datetime.datetime) else str(expiry),
            }

        credentials = RefreshableCredentials.create_from_metadata(
            metadata=fetch(), refresh_using=fetch, method="sts-assume-role"
        )
        core = botocore.session.get_session()
        core._credentials = credentials  # botocore's documented way to inject refreshable credentials
        session = Session(botocore_session=core, region_name=self.region)
        return ClientFactory(
            session,
            account=account,
            region=self.region,
            endpoint_url=self.endpoint_url,
            max_attempts=self.max_attempts,
            hooks=self.hooks,
            log=self.log,
            budget=self.budget.for_another_account(),
        )


def open_session(profile: str | None, region: str | None) -> Any:
    """A boto3 session for the caller's own credentials."""
    try:
        import boto3  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415
        from botocore.exceptions import ProfileNotFound  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415
    except ImportError:
        raise SetupError("iamlint audit needs boto3: pip install 'iamlint[aws]'") from None
    try:
        return boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as exc:
        raise SetupError(str(exc)) from None


def caller_identity(factory: ClientFactory) -> tuple[str, str, str]:
    """(account, partition, caller ARN); SetupError when there are no usable credentials."""
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415

    try:
        found = factory.client("sts").get_caller_identity()
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise SetupError(f"sts:GetCallerIdentity failed: {err.get('Code')}: {err.get('Message')}") from None
    except BotoCoreError as exc:  # no credentials, unreachable endpoint
        raise SetupError(f"cannot reach AWS: {exc}") from None
    arn = str(found["Arn"])
    return str(found["Account"]), arn.split(":")[1], arn
