"""Workloads: which function, task, instance or state machine runs with which role.

Per region, the kinds named by `--workloads`: Lambda functions (`ListFunctions`: the execution
role; their resource policies are read by `resources` when `lambda` is among `--resources`),
EC2 instances (the instance profile; the analysis maps it to its role with the dump's
`InstanceProfileList`), ECS task definitions (the latest active revision of each family: task
role and execution role) and Step Functions state machines (`DescribeStateMachine`: the role).
The last two are opt-in (see `permissions`). Each becomes
`{"kind", "name", "arn", "region", "roles": [role ARNs], ...}` in the snapshot.
"""

from __future__ import annotations

from typing import Any

from iamlint.audit.clients import ClientFactory
from iamlint.audit.coverage import Recorder

KINDS = ("lambda", "ec2", "ecs", "stepfunctions")


def read_workloads(
    factory: ClientFactory,
    rec: Recorder,
    region: str,
    kinds: tuple[str, ...],
    out: list[dict[str, Any]],
    functions: list[dict[str, Any]],
) -> None:
    """Append this region's workloads of these kinds to `out`; Lambda functions also to `functions`."""
    if "lambda" in kinds:
        _lambda(factory, rec, region, out, functions)
    if "ecs" in kinds:
        _ecs(factory, rec, region, out)
    if "ec2" in kinds:
        _ec2(factory, rec, region, out)
    if "stepfunctions" in kinds:
        _step_functions(factory, rec, region, out)


def _lambda(
    factory: ClientFactory, rec: Recorder, region: str, out: list[dict[str, Any]], functions: list[dict[str, Any]]
) -> None:
    found: list[dict[str, Any]] = []
    with rec.attempt(region, "lambda:ListFunctions") as attempt:
        for page in factory.client("lambda", region).get_paginator("list_functions").paginate():
            for fn in page.get("Functions", ()):
                found.append(
                    {
                        "kind": "function",
                        "name": fn["FunctionName"],
                        "arn": fn["FunctionArn"],
                        "region": region,
                        "roles": [fn["Role"]] if fn.get("Role") else [],
                        "runtime": fn.get("Runtime", ""),
                    }
                )
    if not attempt.failed:
        out.extend(found)
        functions.extend(found)


def _ecs(factory: ClientFactory, rec: Recorder, region: str, out: list[dict[str, Any]]) -> None:
    ecs = factory.client("ecs", region)
    families: list[str] = []
    with rec.attempt(region, "ecs:ListTaskDefinitionFamilies"):
        for page in ecs.get_paginator("list_task_definition_families").paginate(status="ACTIVE"):
            families.extend(page.get("families", ()))
    for family in families:
        with rec.attempt(region, "ecs:DescribeTaskDefinition", family):
            td = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
            uses = {"task": td.get("taskRoleArn"), "execution": td.get("executionRoleArn")}
            out.append(
                {
                    "kind": "task-definition",
                    "name": f"{td['family']}:{td['revision']}",
                    "arn": td["taskDefinitionArn"],
                    "region": region,
                    "roles": [arn for arn in dict.fromkeys(uses.values()) if arn],
                    "role_uses": {k: v for k, v in uses.items() if v},
                }
            )


def _ec2(factory: ClientFactory, rec: Recorder, region: str, out: list[dict[str, Any]]) -> None:
    found: list[dict[str, Any]] = []
    with rec.attempt(region, "ec2:DescribeInstances") as attempt:
        pages = factory.client("ec2", region).get_paginator("describe_instances")
        for page in pages.paginate(
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
        ):
            for reservation in page.get("Reservations", ()):
                for inst in reservation.get("Instances", ()):
                    profile = (inst.get("IamInstanceProfile") or {}).get("Arn")
                    if not profile:
                        continue
                    tags = {t.get("Key"): t.get("Value") for t in inst.get("Tags", ())}
                    found.append(
                        {
                            "kind": "instance",
                            "name": inst["InstanceId"],
                            "region": region,
                            "label": tags.get("Name", ""),
                            "instance_profile": profile,
                            "roles": [],
                        }
                    )
    if not attempt.failed:
        out.extend(found)


def _step_functions(factory: ClientFactory, rec: Recorder, region: str, out: list[dict[str, Any]]) -> None:
    sfn = factory.client("stepfunctions", region)
    machines: list[dict[str, Any]] = []
    with rec.attempt(region, "states:ListStateMachines"):
        for page in sfn.get_paginator("list_state_machines").paginate():
            machines.extend(page.get("stateMachines", ()))
    for machine in machines:
        arn = machine["stateMachineArn"]
        with rec.attempt(region, "states:DescribeStateMachine", arn):
            described = sfn.describe_state_machine(stateMachineArn=arn)
            role = described.get("roleArn")
            out.append(
                {
                    "kind": "state-machine",
                    "name": machine["name"],
                    "arn": arn,
                    "region": region,
                    "roles": [role] if role else [],
                }
            )
