"""Bounds on talking to AWS: time per request, attempts, pages per operation, a deadline.

A live audit reads whatever the endpoint answers. An endpoint that is broken, hostile or an
emulator can send garbage (botocore raises a parse error: the caller reports it), answer
slowly (each request is bounded by `connect_timeout` and `read_timeout`, and by `max_attempts`
with botocore's backoff), or paginate forever with a new token on every page (botocore stops
only when a token repeats). `CallBudget` counts every call a client makes, per operation, and
refuses the call past `max_calls_per_operation` or past the `deadline` of the whole run, by
raising `LimitExceeded` from botocore's `before-call` event: the request is never sent.

`CallBudget.hook` has the signature of `iamlint.audit.clients.ClientHook`, so a client factory
installs it on every client it creates; `botocore_options` gives the matching `Config` settings.
Only live audits import this module, so it may import botocore: `LimitExceeded` is one of its
errors, and code that records botocore failures (the audit's `Recorder`) records it as a gap.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError  # type: ignore[import-untyped,unused-ignore]


@dataclass(frozen=True, slots=True)
class AwsLimits:
    connect_timeout: float = 10.0  # seconds to open a connection
    read_timeout: float = 60.0  # seconds without a byte of the response
    max_attempts: int = 10  # per call, the first one included (botocore's total_max_attempts)
    # IAM's GetAccountAuthorizationDetails returns at most 1,000 entries a page: 10,000 pages is
    # ten million principals and policies, beyond any account's quotas.
    max_calls_per_operation: int = 10_000
    deadline: float = 6 * 3600.0  # seconds for every call of one run


class LimitExceeded(BotoCoreError):  # type: ignore[misc,unused-ignore]
    """A call past one of the limits; raised before the request is sent."""

    fmt = "{message}"


def botocore_options(limits: AwsLimits) -> dict[str, Any]:
    """Keyword arguments for `botocore.config.Config` that apply `limits` to each request."""
    return {
        "connect_timeout": limits.connect_timeout,
        "read_timeout": limits.read_timeout,
        "retries": {"mode": "adaptive", "total_max_attempts": limits.max_attempts},
    }


class CallBudget:
    """Call counts and the deadline shared by every client it is installed on (thread-safe)."""

    def __init__(self, limits: AwsLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or AwsLimits()
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self.calls: Counter[tuple[str, str]] = Counter()

    def for_another_account(self) -> CallBudget:
        """A budget with the same limits and deadline (the run's) but call counts of its own:
        the bound on calls per operation is a bound per account."""
        other = CallBudget(self.limits, self._clock)
        other._started = self._started
        return other

    def install(self, client: Any) -> None:
        client.meta.events.register("before-call", self._before_call, unique_id="iamlint-aws-limits")

    def hook(self, account: str, service: str, region: str, client: Any) -> None:
        """`install`, with the signature of a client factory's hook."""
        del account, service, region
        self.install(client)

    def _before_call(self, model: Any, **_kwargs: Any) -> None:
        key = (model.service_model.service_name, model.name)
        with self._lock:
            self.calls[key] += 1
            count = self.calls[key]
        limits = self.limits
        if count > limits.max_calls_per_operation:
            raise LimitExceeded(
                message=f"{key[0]}:{key[1]} called more than {limits.max_calls_per_operation} "
                "times (a pagination that never ends?); stopped"
            )
        elapsed = self._clock() - self._started
        if elapsed > limits.deadline:
            raise LimitExceeded(
                message=f"{key[0]}:{key[1]} not called: the run has taken {elapsed:.0f} s, "
                f"past its deadline of {limits.deadline:.0f} s"
            )
