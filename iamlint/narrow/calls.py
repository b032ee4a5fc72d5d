"""The observed-call model: one `Call` per API request a log recorded, and reading problems.

`Call` is what every call source produces (CloudTrail readers, iamlint's evidence files, the
future recorder) and what the API-to-IAM mapping consumes. Principal helpers live here because
they answer questions about a call alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Error codes that mean "not authorised". EC2 prefixes client errors with `Client.`.
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
    }
)

# Error codes a service returns only once the request was authorised: the caller had the
# permission and the operation failed on the data (a condition check, a missing item or key,
# an invalid value). Such a call is evidence of use as much as a successful one. S3 answers a
# missing key with 404 NoSuchKey only when the caller may list the bucket, else 403 (Amazon S3
# API Reference, GetObject and HeadObject, "Permissions"). Other failures (throttling, service
# errors, codes not listed) show nothing either way and are reported, not counted.
_AFTER_AUTHORISATION = frozenset(
    {
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
        "ItemCollectionSizeLimitExceededException",
        "NoSuchKey",
        "NoSuchVersion",
        "NoSuchUpload",
        "PreconditionFailed",
        "NotModified",
        "InvalidObjectState",
        "ResourceNotFoundException",
        "ResourceInUseException",
        "ResourceExistsException",
        "ResourceConflictException",
        "ConflictException",
        "ValidationException",
        "ValidationError",
        "InvalidParameterException",
        "InvalidParameterValueException",
        "ParameterNotFound",
        "NoSuchEntity",
        "EntityAlreadyExists",
    }
)


@dataclass(frozen=True, slots=True)
class Call:
    """One observed API call, as a log recorded it."""

    service: str  # IAM prefix after mapping of the event source, e.g. "s3", "cloudwatch"
    operation: str  # API operation, version suffix stripped, e.g. "UpdateFunctionCode"
    principal: str  # the caller ARN as recorded (userIdentity.arn)
    role_arn: str | None  # sessionContext.sessionIssuer.arn when assumed-role
    session_name: str | None  # for assumed-role ARNs, the session (a Lambda function name)
    time: str | None  # eventTime
    region: str | None
    resources: tuple[str, ...]  # ARNs the record names (resources[]); see mapping for more
    parameters: Mapping[str, object] = field(hash=False, compare=False)
    error: str | None = None  # errorCode, e.g. "AccessDenied", "Client.UnauthorizedOperation"
    event_source: str = ""  # e.g. "s3.amazonaws.com"
    source_file: str = ""
    source_index: int = 0
    account: str | None = None  # recipientAccountId, else userIdentity.accountId
    api: str | None = None  # botocore client name when known ("s3control" for s3-control hosts)
    invoked_by: str | None = None  # service that called on the principal's behalf (FAS)
    # True when a `*` in the call's names stands for a part not known (static analysis of code);
    # in a logged call every character is the name's own, and a key may hold `*`.
    wildcards: bool = False

    @property
    def action_guess(self) -> str:
        return f"{self.service}:{self.operation}"

    @property
    def denied(self) -> bool:
        """True when the call failed for lack of permission."""
        if not self.error:
            return False
        code = self.error.removeprefix("Client.").removeprefix("Server.")
        return code in _DENIED or code.endswith("AccessDenied")

    @property
    def authorised(self) -> bool:
        """True when the call succeeded, or failed with an error only an authorised call gets."""
        return not self.error or self.error.removeprefix("Client.") in _AFTER_AUTHORISATION


@dataclass(frozen=True, slots=True)
class EvidenceError:
    """A problem with one record or one file; reading goes on."""

    file: str
    index: int | None  # record number in the file (0-based), when known
    offset: int | None  # character offset in the (decompressed) text, when known
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.line is not None and self.column is not None:
            where += f":{self.column}"
        if self.index is not None:
            where += f": record {self.index}"
        return f"{where}: {self.message}"


# -- principals ----------------------------------------------------------------------------


def session_of(principal: str) -> str | None:
    """The session name of `arn:aws:sts::<acct>:assumed-role/<Role>/<session>`."""
    parts = _assumed_role(principal)
    return parts[2] if parts else None


def _assumed_role(arn: str) -> tuple[str, str, str] | None:
    """(account, role name, session) of an STS assumed-role ARN."""
    fields = arn.split(":", 5)
    if len(fields) != 6 or fields[2] != "sts" or not fields[5].startswith("assumed-role/"):
        return None
    rest = fields[5][len("assumed-role/") :].split("/", 1)
    if len(rest) != 2:
        return None
    return fields[4], rest[0], rest[1]


def _named(arn: str, kind: str) -> tuple[str, str] | None:
    """(account, name) of an IAM `role/...` or `user/...` ARN; the path is dropped."""
    fields = arn.split(":", 5)
    if len(fields) != 6 or fields[2] != "iam" or not fields[5].startswith(kind + "/"):
        return None
    return fields[4], fields[5].rsplit("/", 1)[-1]


def matches_principal(
    call: Call, role_arn: str | None = None, session: str | None = None, user: str | None = None
) -> bool:
    """Does the call come from this role, session and/or user? (all given criteria must hold)

    Roles compare by account and name: role names are unique in an account, and the STS
    assumed-role ARN does not carry the role's path (IAM User Guide, "IAM identifiers").
    `role_arn` and `user` may also be bare names.
    """
    if role_arn is not None and not _role_matches(call, role_arn):
        return False
    if session is not None and call.session_name != session:
        return False
    if user is not None:
        if user.startswith("arn:"):
            want = _named(user, "user")
            have = _named(call.principal, "user")
            if call.principal != user and (want is None or want != have):
                return False
        else:
            have = _named(call.principal, "user")
            if have is None or have[1] != user:
                return False
    return True


def _role_matches(call: Call, role: str) -> bool:
    have: tuple[str, str] | None = None
    if call.role_arn is not None:
        have = _named(call.role_arn, "role")
    if have is None:
        assumed = _assumed_role(call.principal)
        have = (assumed[0], assumed[1]) if assumed else None
    if have is None:
        return False
    if not role.startswith("arn:"):
        return have[1] == role
    return _named(role, "role") == have
