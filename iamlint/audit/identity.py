"""Identity: users, groups, roles and managed policies, from `GetAccountAuthorizationDetails`.

All pages are merged into one dump, as `aws iam get-account-authorization-details` prints it:
every principal with its inline policies, attached managed policies, permissions boundary and
(for roles) trust policy and instance profiles; every customer managed policy with all of its
versions, and the AWS managed policies in use. Service-linked roles are in the dump like any
role; the loader marks them by their `/aws-service-role/` path.
"""

from __future__ import annotations

from typing import Any

from iamlint.audit.clients import ClientFactory
from iamlint.audit.coverage import Recorder
from iamlint.audit.snapshot import AUTH_KEYS, KEY

GLOBAL = "global"


def read_identity(factory: ClientFactory, rec: Recorder, snapshot: dict[str, Any]) -> bool:
    """Fill the dump's lists in `snapshot`; False when the dump could not be read whole."""
    merged: dict[str, list[Any]] = {key: [] for key in AUTH_KEYS}
    with rec.attempt(GLOBAL, "iam:GetAccountAuthorizationDetails") as attempt:
        pages = factory.client("iam").get_paginator("get_account_authorization_details")
        for page in pages.paginate():
            for key in AUTH_KEYS:
                merged[key].extend(page.get(key, ()))
    if attempt.failed:
        # A partial dump would read as an account with fewer principals: keep none, say so.
        snapshot[KEY]["identity_unread"] = True
        return False
    snapshot.update(merged)
    return True
