"""The `${Name}` placeholders of the ASL, and filling them in.

The definition never contains an account, a region or a deployment's names: it holds
`${PipelineName}`-style placeholders, which CloudFormation fills from the state machine's
`DefinitionSubstitutions` on AWS and `render` fills locally. So one ASL text serves every
stage and account, and building it needs no AWS access.
"""

from __future__ import annotations

import json
import re

from core import names
from core.settings import Settings

PIPELINE_NAME = "PipelineName"
MODEL_PACKAGE_GROUP_NAME = "ModelPackageGroupName"
APPROVAL_FUNCTION_ARN = "ApprovalFunctionArn"
SMOKE_TEST_FUNCTION_ARN = "SmokeTestFunctionArn"
NOTIFICATION_TOPIC_ARN = "NotificationTopicArn"
SAGEMAKER_ROLE_ARN = "SageMakerRoleArn"
ENDPOINT_NAME = "EndpointName"
MODEL_MONITOR_IMAGE_URI = "ModelMonitorImageUri"

#: Every placeholder the ASL uses: the keys CloudFormation's DefinitionSubstitutions needs.
DEFINITION_SUBSTITUTIONS: tuple[str, ...] = (
    PIPELINE_NAME,
    MODEL_PACKAGE_GROUP_NAME,
    APPROVAL_FUNCTION_ARN,
    SMOKE_TEST_FUNCTION_ARN,
    NOTIFICATION_TOPIC_ARN,
    SAGEMAKER_ROLE_ARN,
    ENDPOINT_NAME,
    MODEL_MONITOR_IMAGE_URI,
)

#: Model and endpoint-config names are "<endpoint>-<32-hex MD5 of the execution ARN>" and
#: SageMaker allows 63 characters, so the endpoint name may have at most 30.
MAX_ENDPOINT_NAME_LENGTH = 30

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")


def ref(name: str) -> str:
    """The placeholder text for `name`, e.g. "${PipelineName}"."""
    if name not in DEFINITION_SUBSTITUTIONS:
        raise ValueError(
            f"unknown placeholder {name!r}; known: {', '.join(DEFINITION_SUBSTITUTIONS)}"
        )
    return "${" + name + "}"


def placeholders_in(asl_text: str) -> list[str]:
    """The placeholder names `asl_text` uses, sorted and without repeats."""
    return sorted(set(_PLACEHOLDER.findall(asl_text)))


def substitution_values(settings: Settings, account_id: str, region: str) -> dict[str, str]:
    """The values for one account and region, from the settings (local runs, templates)."""
    return {
        PIPELINE_NAME: settings.pipeline_name,
        MODEL_PACKAGE_GROUP_NAME: settings.model_package_group,
        APPROVAL_FUNCTION_ARN: (
            f"arn:aws:lambda:{region}:{account_id}:function:{settings.approval_function_name}"
        ),
        SMOKE_TEST_FUNCTION_ARN: (
            f"arn:aws:lambda:{region}:{account_id}:function:{names.smoke_test_function_name(settings)}"
        ),
        NOTIFICATION_TOPIC_ARN: (
            f"arn:aws:sns:{region}:{account_id}:{settings.notification_topic_name}"
        ),
        SAGEMAKER_ROLE_ARN: settings.role_arn,
        ENDPOINT_NAME: settings.endpoint_name,
        MODEL_MONITOR_IMAGE_URI: model_monitor_image(region),
    }


def model_monitor_image(region: str) -> str:
    """The Model Monitor analyzer image of `region`, as the SageMaker SDK names it."""
    from sagemaker import image_uris

    import pipelines.sdk  # noqa: F401 - quiets the SDK

    return str(image_uris.retrieve("model-monitor", region))


def render(asl_text: str, values: dict[str, str]) -> str:
    """`asl_text` with every placeholder replaced, as CloudFormation would; checks the values.

    Values are JSON-escaped, since every placeholder sits inside a JSON string.
    """
    unknown = sorted(set(values) - set(DEFINITION_SUBSTITUTIONS))
    if unknown:
        raise ValueError(
            f"unknown substitution(s) {', '.join(unknown)}; "
            f"the ASL uses only {', '.join(DEFINITION_SUBSTITUTIONS)}"
        )
    missing = [name for name in placeholders_in(asl_text) if not values.get(name)]
    if missing:
        raise ValueError(f"no value for placeholder(s) {', '.join(missing)}: pass them in `values`")
    endpoint = values.get(ENDPOINT_NAME, "")
    if len(endpoint) > MAX_ENDPOINT_NAME_LENGTH:
        raise ValueError(
            f"{ENDPOINT_NAME} {endpoint!r} has {len(endpoint)} characters; at most "
            f"{MAX_ENDPOINT_NAME_LENGTH} fit, because model and endpoint-config names append "
            "a 33-character suffix and SageMaker allows 63. Shorten settings.endpoint_name."
        )
    return _PLACEHOLDER.sub(lambda m: json.dumps(str(values[m.group(1)]))[1:-1], asl_text)
