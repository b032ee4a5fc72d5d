"""Reading one account into a snapshot: identity, workloads, resource policies, usage.

Each read is wrapped by the account's `Recorder`, so a failure becomes a coverage gap and the
next read goes on. A region the account has not enabled answers every call with the same
error; after the first one, the region's other reads are skipped and recorded as one gap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from iamlint.audit import snapshot as snap
from iamlint.audit.clients import ClientFactory
from iamlint.audit.coverage import REGION_DISABLED, Recorder

Progress = Callable[[str], None]  # called once per finished step, with what was done


@dataclass(frozen=True, slots=True)
class CollectOptions:
    regions: tuple[str, ...] = ()  # empty: the session's region
    all_regions: bool = False  # every region enabled in each account (ec2:DescribeRegions)
    workloads: tuple[str, ...] = ("lambda", "ec2")  # see iamlint.audit.permissions for why
    resources: tuple[str, ...] = ()
    access_advisor: bool = False
    cloudtrail_days: int = 0  # 0: do not call LookupEvents
    cloudtrail_max_events: int = 50_000

    def steps(self) -> tuple[str, ...]:
        out = ["identity", "workloads"] if self.workloads else ["identity"]
        if self.resources:
            out.append("resource policies")
        if self.access_advisor:
            out.append("access advisor")
        if self.cloudtrail_days:
            out.append("cloudtrail")
        return tuple(out)

    def as_dict(self) -> dict[str, Any]:
        return {
            "workloads": list(self.workloads),
            "resources": list(self.resources),
            "access_advisor": self.access_advisor,
            "cloudtrail_days": self.cloudtrail_days,
            "all_regions": self.all_regions,
        }


def _regions(factory: ClientFactory, rec: Recorder, options: CollectOptions) -> list[str]:
    if not options.all_regions:
        return list(options.regions or (factory.region,))
    found: list[str] = []
    with rec.attempt(factory.region, "ec2:DescribeRegions"):
        found = sorted(r["RegionName"] for r in factory.client("ec2").describe_regions()["Regions"])
    return found or [factory.region]


def _disabled(rec: Recorder, region: str) -> bool:
    return any(g.region == region and g.kind == REGION_DISABLED for g in rec.gaps)


def collect_account(
    factory: ClientFactory,
    rec: Recorder,
    name: str,
    partition: str,
    options: CollectOptions,
    progress: Progress,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    from iamlint.audit import resources, usage, workloads  # noqa: PLC0415
    from iamlint.audit.identity import read_identity  # noqa: PLC0415

    account = factory.account
    regions = _regions(factory, rec, options)
    data = snap.new(account, name, partition, regions, options.as_dict())
    extras = data[snap.KEY]
    read_identity(factory, rec, data)
    progress(f"{account}: identity")

    functions: list[dict[str, Any]] = []
    live: list[str] = []
    for region in regions:
        workloads.read_workloads(factory, rec, region, options.workloads, extras["workloads"], functions)
        if _disabled(rec, region):
            rec.add(region, "*", REGION_DISABLED, "every other read in this region was skipped")
            continue
        live.append(region)
    if options.workloads:
        progress(f"{account}: workloads")

    if options.resources:
        found = extras["resource_policies"]
        if "s3" in options.resources:
            resources.read_buckets(factory, rec, found, partition)
        if "lambda" in options.resources:
            if "lambda" not in options.workloads:  # the functions are listed with the workloads
                for region in live:
                    workloads.read_workloads(factory, rec, region, ("lambda",), [], functions)
            resources.read_function_policies(factory, rec, functions, found)
        for region in live:
            for service in options.resources:
                reader = resources.REGIONAL.get(service)
                if reader is not None:
                    reader(factory, rec, region, found)
        progress(f"{account}: resource policies")

    if options.access_advisor:
        usage.read_access_advisor(factory, rec, usage.principals_for_advisor(data), extras["access_advisor"], sleep)
        progress(f"{account}: access advisor")

    if options.cloudtrail_days:
        trail = extras["cloudtrail"]
        trail.update({"days": options.cloudtrail_days, "management_events_only": True})
        for region in live:
            usage.read_cloudtrail(factory, rec, region, options.cloudtrail_days, trail, options.cloudtrail_max_events)
        progress(f"{account}: cloudtrail")
    return data
