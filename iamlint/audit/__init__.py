"""`iamlint audit`: read an AWS account (or an Organization) without changing it, and report.

The flow is one way, like `check`'s:

    live accounts ──► collect (read-only clients) ──► snapshot ──► analyse ──► text / JSON / HTML
    saved snapshot ─────────────────────────────────┘

- `clients`: the one client factory; every API call passes its read-only allowlist.
- `collect`, `identity`, `workloads`, `resources`, `usage`: what is read from one account, with
  what could not be read recorded as coverage gaps (`coverage`).
- `org`: which accounts, the roles assumed in them, the worker pool.
- `snapshot`: the saved form, an authorization-details dump plus extras under `iamlint`.
- `analyse`, `unused`: findings, principals by worst severity, unused access, proposals.
- `text`, `html`: the terminal summary and the self-contained HTML report.
- `command`: the click command.

Only `clients` imports boto3, and only when a live account is read.
"""
