"""Which accounts to read, with which credentials, and the pool of workers that reads them.

Without `--org-role`, the audit reads the caller's own account. With it, the accounts come from
the Organization (`organizations:ListAccounts`, so the caller must be in the management account
or a delegated administrator) or from `--accounts FILE`, and in each one the role
`arn:<partition>:iam::<account>:role/<NAME>` is assumed; the caller's own account is read with
the caller's credentials. Accounts are read by a bounded pool of threads. Each account is
isolated: its AccessDenied, throttling or even an iamlint bug becomes a gap in that account's
coverage and the other accounts are read as usual.
"""

from __future__ import annotations

import re
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iamlint.audit import snapshot as snap
from iamlint.audit.clients import ClientFactory, ReadOnlyViolation, SetupError
from iamlint.audit.collect import CollectOptions, Progress, collect_account
from iamlint.audit.coverage import INACTIVE, INTERNAL, Recorder

if TYPE_CHECKING:
    from iamlint.aws_limits import AwsLimits

_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True, slots=True)
class Target:
    account: str
    name: str = ""
    status: str = "ACTIVE"


def organization_accounts(factory: ClientFactory) -> list[Target]:
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415

    out: list[Target] = []
    try:
        for page in factory.client("organizations").get_paginator("list_accounts").paginate():
            out.extend(Target(a["Id"], a.get("Name", ""), a.get("Status", "ACTIVE")) for a in page.get("Accounts", ()))
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise SetupError(
            f"organizations:ListAccounts failed ({err.get('Code')}: {err.get('Message')}); run from "
            "the management account or a delegated administrator, or list the accounts with "
            "--accounts FILE"
        ) from None
    except BotoCoreError as exc:
        raise SetupError(f"organizations:ListAccounts failed: {exc}") from None
    return sorted(out, key=lambda t: t.account)


def read_accounts_file(path: str) -> list[Target]:
    """One account per line: the 12-digit id, then optionally a name; `#` starts a comment."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise SetupError(f"{path}: cannot read: {exc.strerror or exc}") from None
    out: dict[str, Target] = {}
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        account, _, name = text.replace(",", " ").partition(" ")
        if not _ACCOUNT.match(account):
            raise SetupError(f"{path}:{number}: expected a 12-digit account id, found {account!r}")
        out.setdefault(account, Target(account, name.strip()))
    if not out:
        raise SetupError(f"{path}: no account ids in the file")
    return list(out.values())


def read_accounts(
    base: ClientFactory,
    caller_account: str,
    partition: str,
    targets: Sequence[Target],
    org_role: str | None,
    options: CollectOptions,
    workers: int,
    progress: Progress,
    sleep: Callable[[float], None] | None = None,
) -> list[tuple[str, str, dict[str, Any]]]:
    """(account, name, snapshot) for every target, in the targets' order."""
    steps = len(options.steps())
    stop = threading.Event()  # set on Ctrl-C: every worker stops at its next read

    def one(target: Target) -> tuple[str, str, dict[str, Any]]:
        rec = Recorder(target.account, stop)
        data: dict[str, Any] | None = None
        done = 0

        def step(what: str) -> None:
            nonlocal done
            done += 1
            progress(what)

        try:
            if target.status != "ACTIVE":
                rec.add(
                    "global",
                    "organizations:ListAccounts",
                    INACTIVE,
                    f"the account is {target.status}; it cannot be read",
                )
            elif org_role is None or target.account == caller_account:
                data = collect_account(
                    base, rec, target.name, partition, options, step, **({"sleep": sleep} if sleep else {})
                )
            else:
                role_arn = f"arn:{partition}:iam::{target.account}:role/{org_role}"
                factory = None
                with rec.attempt("global", "sts:AssumeRole", role_arn):
                    factory = base.assume(target.account, org_role, partition)
                if factory is not None:
                    data = collect_account(
                        factory, rec, target.name, partition, options, step, **({"sleep": sleep} if sleep else {})
                    )
        except ReadOnlyViolation:
            raise
        except Exception as exc:  # noqa: BLE001 - one account's failure must not stop the others
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            rec.add("global", "*", INTERNAL, f"iamlint failed while reading this account: {detail}")
        for _ in range(done, steps):
            progress(f"{target.account}: skipped")
        if data is None:
            data = snap.new(target.account, target.name, partition, options.regions, options.as_dict())
            data[snap.KEY]["unread"] = True  # no dump: nothing of the account was analysed
        data[snap.KEY]["coverage"] = [g.as_dict() for g in rec.gaps]
        return target.account, target.name, data

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="iamlint-audit") as pool:
        futures = [pool.submit(one, t) for t in targets]
        try:
            return [f.result() for f in futures]
        except KeyboardInterrupt:
            stop.set()
            for f in futures:
                f.cancel()
            raise


@dataclass(frozen=True, slots=True)
class LiveSettings:
    profile: str | None = None
    region: str | None = None  # the first of --region; also where global services are called
    endpoint_url: str | None = None
    org_role: str | None = None
    accounts_file: str | None = None
    workers: int = 8
    max_attempts: int = 10
    options: CollectOptions = field(default_factory=CollectOptions)
    limits: AwsLimits | None = None  # default: iamlint.aws_limits.AwsLimits with max_attempts


def run_live(
    settings: LiveSettings,
    start: Callable[[int], None],
    progress: Progress,
    hooks: Sequence[Any] = (),
    sleep: Callable[[float], None] | None = None,
) -> tuple[list[tuple[str, str, dict[str, Any]]], ClientFactory]:
    """Read every target account; returns (account, name, snapshot) per account and the base factory
    (whose `log` counts the calls made)."""
    from iamlint.audit.clients import caller_identity, open_session  # noqa: PLC0415

    session = open_session(settings.profile, settings.region)
    region = settings.region or session.region_name or "us-east-1"
    base = ClientFactory(
        session,
        account="caller",
        region=region,
        endpoint_url=settings.endpoint_url,
        max_attempts=settings.max_attempts,
        hooks=hooks,
        limits=settings.limits,
    )
    account, partition, _arn = caller_identity(base)
    base.account = account
    if settings.org_role is None:
        targets = [Target(account)]
    elif settings.accounts_file:
        targets = read_accounts_file(settings.accounts_file)
    else:
        targets = organization_accounts(base)
    start(len(targets) * len(settings.options.steps()))
    return read_accounts(
        base, account, partition, targets, settings.org_role, settings.options, settings.workers, progress, sleep
    ), base
