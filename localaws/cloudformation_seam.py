"""Seam 4: moto's CloudFormation creates every resource of the workflow's template.

moto 5.2.5's CloudFormation has gaps that the project's template falls into. Each is bridged
once here, through moto's own service backends, so a stack deployed with plain
CreateChangeSet/ExecuteChangeSet calls has every resource really created:

1. Resource types moto lacks: `AWS::SecretsManager::Secret` (Secrets Manager, the value
   generated per GenerateSecretString as GetRandomPassword does), `AWS::Scheduler::Schedule`
   (EventBridge Scheduler) and `AWS::Lambda::Url` (a Lambda function URL config; the local
   Lambda backend serves it on 127.0.0.1, see `localaws.function_urls`). Each is a model
   class below that creates, updates (in place, or by replacement when its name or target
   changes, as CloudFormation does) and deletes the resource. moto discovers CloudFormation
   models as the subclasses of its `CloudFormationModel`, so defining them registers them.
2. `AWS::StepFunctions::StateMachine`: moto ignores DefinitionSubstitutions, and creates the
   machine in its plain Step Functions backend, which the API does not serve when the ASL
   interpreter is on. The machine's create, update and delete are replaced with ones that
   substitute and use the backend the API serves.
3. ExecuteChangeSet leaves the stack's template, outputs and recorded parameters as they were
   before the change set (a created stack has no outputs at all). `ChangeSet.apply` is
   replaced with one that refreshes them after applying the changes. Whether a change set
   changes any parameter is decided on their text, as CloudFormation's values are text:
   moto resolves a given Number parameter to a number but its default to text, so the same
   value passed on with UsePreviousValue would otherwise count as a change, every time.
4. `AWS::Lambda::Function`: moto ignores LoggingConfig and Architectures, and
   ReservedConcurrentExecutions on an update. The function's update is wrapped to apply the
   concurrency through the Lambda backend, its create and update to keep LoggingConfig and
   Architectures, and its configuration (what GetFunction and GetFunctionConfiguration
   return) to include them, as Lambda's does.
5. `AWS::DynamoDB::Table`: moto ignores TimeToLiveSpecification. The table's create is
   wrapped to turn TTL on through the DynamoDB backend, as CloudFormation does.
6. `AWS::CloudWatch::Alarm`: moto has no model for it (moto/cloudwatch/models.py models only
   dashboards), so an endpoint's rollback alarms would not exist. A model class below creates
   the alarm with the CloudWatch backend's PutMetricAlarm, updates it the same way (in place;
   a new AlarmName replaces it) and deletes it with DeleteAlarms; Ref gives its name and
   `Arn` its ARN (CloudFormation template reference, AWS::CloudWatch::Alarm).

The replaced methods are swapped in by `install()`, which keeps moto's originals, and put back
by `uninstall()`. The local AWS installs the seam when the first CloudFormation request
arrives (see `localaws.server`).
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend as lambda_backend
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException, ValidationError
from moto.cloudformation.models import ChangeSet, Stack, cloudformation_backends
from moto.core.common_models import CloudFormationModel
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.utils import cfn_to_api_tags

from localaws.patches import Patches, replaced_by

#: The resource types moto 5.2.5's CloudFormation cannot create, which this seam models.
BRIDGED_TYPES = frozenset(
    {
        "AWS::CloudWatch::Alarm",
        "AWS::Lambda::Url",
        "AWS::Scheduler::Schedule",
        "AWS::SecretsManager::Secret",
    }
)
#: `${Name}` in a state machine definition: a DefinitionSubstitutions key.
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")

_PATCHES = Patches()


def install() -> None:
    """Bridge moto's CloudFormation gaps (idempotent)."""
    _PATCHES.apply(
        lambda: [(owner, name, replaced_by(new)) for owner, name, new in _replacements()]
    )
    # moto caches its model list on first use: make sure it lists the bridged types.
    _refresh_model_caches()


def uninstall() -> None:
    """Put moto's own methods back (the bridged resource types stay registered)."""
    _PATCHES.restore()


def installed() -> bool:
    """Whether moto's methods are currently replaced by this seam's."""
    return _PATCHES.applied


def _replacements() -> list[tuple[type, str, Any]]:
    return [
        (StateMachine, "create_from_cloudformation_json", classmethod(_create_state_machine)),
        (StateMachine, "update_from_cloudformation_json", classmethod(_update_state_machine)),
        (StateMachine, "delete_from_cloudformation_json", classmethod(_delete_state_machine)),
        (ChangeSet, "apply", _apply_change_set),
        (Stack, "has_parameters", _has_parameters),
        (
            LambdaFunction,
            "create_from_cloudformation_json",
            _created_then(LambdaFunction, lambda fn, props, *_: _keep_configuration(fn, props)),
        ),
        (LambdaFunction, "update_from_cloudformation_json", classmethod(_update_function)),
        (LambdaFunction, "get_configuration", _function_configuration),
        (Table, "create_from_cloudformation_json", _created_then(Table, _table_ttl)),
    ]


def _refresh_model_caches() -> None:
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()


# -- AWS::StepFunctions::StateMachine ----------------------------------------------------------


def substitute_definition(properties: dict[str, Any]) -> str:
    """The machine's definition with its DefinitionSubstitutions applied, as CloudFormation does.

    Unknown `${Name}`s are left as they are (the definition then fails validation, as on AWS).
    """
    if "DefinitionString" in properties:
        text = properties["DefinitionString"]
    elif "Definition" in properties:
        text = json.dumps(properties["Definition"])
    else:
        raise ValidationError(
            message="AWS::StepFunctions::StateMachine: give DefinitionString or Definition "
            "(DefinitionS3Location is not supported locally)"
        )
    values = properties.get("DefinitionSubstitutions") or {}

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        found = values[name]
        return found if isinstance(found, str) else json.dumps(found)

    return PLACEHOLDER.sub(value, text)


def _sfn_backend(account_id: str, region_name: str) -> Any:
    """The Step Functions backend the API serves (the ASL interpreter's when it is on)."""
    from moto.stepfunctions.responses import get_backend

    return get_backend(account_id, region_name)


def _create_state_machine(
    cls: type[StateMachine],
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **_kwargs: Any,
) -> StateMachine:
    properties = cloudformation_json["Properties"]
    return _sfn_backend(account_id, region_name).create_state_machine(
        properties.get("StateMachineName", resource_name),
        substitute_definition(properties),
        properties.get("RoleArn", ""),
        tags=cfn_to_api_tags(properties.get("Tags", [])),
        sm_type=properties.get("StateMachineType"),
    )


def _update_state_machine(
    cls: type[StateMachine],
    original_resource: StateMachine,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> StateMachine:
    properties = cloudformation_json.get("Properties", {})
    name = properties.get("StateMachineName", original_resource.name)
    if name != original_resource.name:  # a new name replaces the machine
        replacement = cls.create_from_cloudformation_json(
            name, cloudformation_json, account_id, region_name
        )
        cls.delete_from_cloudformation_json(
            original_resource.arn, cloudformation_json, account_id, region_name
        )
        return replacement
    backend = _sfn_backend(account_id, region_name)
    machine = backend.update_state_machine(
        original_resource.arn,
        definition=substitute_definition(properties),
        role_arn=properties.get("RoleArn"),
    )
    backend.tagger.tag_resource(machine.arn, cfn_to_api_tags(properties.get("Tags", [])))
    return machine


def _delete_state_machine(
    cls: type[StateMachine],
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> None:
    _sfn_backend(account_id, region_name).delete_state_machine(resource_name)


# -- ExecuteChangeSet ----------------------------------------------------------------------------


def _apply_change_set(self: ChangeSet) -> None:
    """Apply the changes, then record the template, parameters and outputs they produced."""
    _PATCHES.original(ChangeSet, "apply")(self)
    stack = self.stack
    stack.template = self.template
    stack._parse_template()
    stack.description = stack.template_dict.get("Description")
    stack.parameters = dict(self.parameters)
    stack.output_map = stack._create_output_map()
    exports = cloudformation_backends[stack.account_id][stack.region_name].exports
    for name in [n for n, e in exports.items() if e.exporting_stack_id == stack.stack_id]:
        del exports[name]
    for export in stack.exports:
        if export.name in exports:
            raise ValidationError(
                stack.stack_id, message="Export names must be unique across a given region"
            )
        exports[export.name] = export


def _has_parameters(self: Stack, other_parameters: dict[str, Any]) -> bool:
    """Whether the stack has these parameter values, compared as the text CloudFormation uses."""

    def text(parameters: dict[str, Any]) -> dict[str, str]:
        return {
            name: ",".join(map(str, value)) if isinstance(value, list) else str(value)
            for name, value in parameters.items()
        }

    return text(self.parameters) == text(other_parameters)


# -- AWS::Lambda::Function ----------------------------------------------------------------------

#: Where the bridge keeps a function's LoggingConfig (moto's LambdaFunction has no such field).
_LOGGING_CONFIG = "_cfn_logging_config"


def _created_then(owner: type, complete: Callable[[Any, dict[str, Any], str, str], None]) -> Any:
    """moto's create_from_cloudformation_json of `owner`, then `complete(resource, properties,
    account_id, region_name)` for what moto leaves out."""

    def create(
        cls: type,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        original = _PATCHES.original(owner, "create_from_cloudformation_json")
        resource = original.__func__(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        complete(resource, cloudformation_json.get("Properties", {}), account_id, region_name)
        return resource

    return classmethod(create)


def _update_function(
    cls: type[LambdaFunction],
    original_resource: LambdaFunction,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> LambdaFunction:
    original = _PATCHES.original(LambdaFunction, "update_from_cloudformation_json")
    function = original.__func__(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    )
    properties = cloudformation_json.get("Properties", {})
    backend = lambda_backend(account_id, region_name)  # the one the API serves
    if properties.get("ReservedConcurrentExecutions") is None:
        backend.delete_function_concurrency(function.function_name)
    else:
        backend.put_function_concurrency(
            function.function_name, properties["ReservedConcurrentExecutions"]
        )
    _keep_configuration(function, properties)
    return function


def _keep_configuration(function: LambdaFunction, properties: dict[str, Any]) -> None:
    """The function's LoggingConfig and Architectures, which moto leaves out."""
    given = properties.get("LoggingConfig") or {}
    config = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{function.function_name}", **given}
    setattr(function, _LOGGING_CONFIG, config)
    function.architectures = properties.get("Architectures") or ["x86_64"]


def _function_configuration(self: LambdaFunction, on_create: bool = False) -> dict[str, Any]:
    config: dict[str, Any] = _PATCHES.original(LambdaFunction, "get_configuration")(self, on_create)
    logging_config = getattr(self, _LOGGING_CONFIG, None)
    if logging_config is not None:
        config["LoggingConfig"] = dict(logging_config)
    return config


# -- AWS::DynamoDB::Table --------------------------------------------------------------------


def _table_ttl(table: Table, properties: dict[str, Any], account_id: str, region: str) -> None:
    ttl = properties.get("TimeToLiveSpecification")
    if ttl:
        spec = {"Enabled": _flag(ttl.get("Enabled")), "AttributeName": ttl["AttributeName"]}
        dynamodb_backends[account_id][region].update_time_to_live(table.name, spec)


# -- the resource types moto lacks ---------------------------------------------------------------


class _Bridged:
    """What the bridged models share: where they live, their properties, lifecycle hooks.

    Each model declares its resource type, the property that names it, which of its fields is
    its physical id (what Ref gives), the attributes GetAtt may read and where moto keeps the
    service's backends; the lookups moto's CloudFormation makes are answered from those.
    """

    #: AWS::<Service>::<Type>.
    resource_type = ""
    #: The property that names the resource ("" for a type without one).
    name_property = ""
    #: The instance's field that is its physical id.
    physical_id = "arn"
    #: (module, name) of moto's backends of the service, by account and region.
    backends = ("", "")
    attributes: tuple[str, ...] = ()
    #: Set by the models that have one (GetAtt's default value).
    arn: str

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.resource_type

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.name_property

    @property
    def physical_resource_id(self) -> str:
        return str(getattr(self, self.physical_id))

    @classmethod
    def _backend(cls, account_id: str, region_name: str) -> Any:
        module, name = cls.backends
        return getattr(importlib.import_module(module), name)[account_id][region_name]

    def __init__(self, account_id: str, region_name: str, properties: dict[str, Any]):
        self.account_id = account_id
        self.region_name = region_name
        self.properties = copy.deepcopy(properties)

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.attributes

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.attributes:
            raise UnformattedGetAttTemplateException()
        return self._attribute(attribute_name)

    def _attribute(self, attribute_name: str) -> Any:
        """A GetAtt value: the ARN, unless the model says otherwise."""
        return self.arn

    def is_created(self) -> bool:
        return True

    def delete(self, account_id: str, region_name: str) -> None:
        raise NotImplementedError

    @classmethod
    def _replace(
        cls,
        original: _Bridged,
        name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        """An update CloudFormation does by replacement: the new resource first, then the old
        one goes."""
        replacement = cls.create_from_cloudformation_json(  # type: ignore[attr-defined]
            name, cloudformation_json, account_id, region_name
        )
        original.delete(account_id, region_name)
        return replacement

    @classmethod
    def delete_from_cloudformation_json(  # moto falls back to this when delete() fails
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        return None


class SecretResource(_Bridged, CloudFormationModel):
    """AWS::SecretsManager::Secret in moto's Secrets Manager; Ref and `Id` give its ARN."""

    resource_type = "AWS::SecretsManager::Secret"
    name_property = "Name"
    backends = ("moto.secretsmanager.models", "secretsmanager_backends")
    attributes = ("Id",)

    def __init__(
        self, account_id: str, region_name: str, arn: str, name: str, properties: dict[str, Any]
    ):
        super().__init__(account_id, region_name, properties)
        self.arn = arn
        self.name = name

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_kwargs: Any,
    ) -> SecretResource:
        properties = cloudformation_json.get("Properties", {})
        backend = cls._backend(account_id, region_name)
        name = properties.get("Name", resource_name)
        backend.create_secret(
            name=name,
            secret_string=secret_value(backend, properties),
            secret_binary=None,
            description=properties.get("Description"),
            tags=properties.get("Tags"),
            kms_key_id=properties.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        arn = backend.describe_secret(name).arn
        return cls(account_id, region_name, arn, name, properties)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
        cls,
        original_resource: SecretResource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> SecretResource:
        properties = cloudformation_json.get("Properties", {})
        if properties.get("Name", original_resource.name) != original_resource.name:
            return cls._replace(
                original_resource, properties["Name"], cloudformation_json, account_id, region_name
            )
        backend = cls._backend(account_id, region_name)
        old, arn = original_resource.properties, original_resource.arn
        if any(old.get(k) != properties.get(k) for k in ("SecretString", "GenerateSecretString")):
            value = secret_value(backend, properties)
            if value is not None:  # a new version, as UpdateSecret makes
                backend.update_secret(arn, secret_string=value)
        secret = backend.describe_secret(arn)
        secret.description = properties.get("Description")
        old_tags = {t["Key"]: t["Value"] for t in old.get("Tags") or []}
        new_tags = {t["Key"]: t["Value"] for t in properties.get("Tags") or []}
        if removed := sorted(set(old_tags) - set(new_tags)):
            backend.untag_resource(arn, removed)
        if new_tags != old_tags:
            backend.tag_resource(arn, new_tags)
        original_resource.properties = copy.deepcopy(properties)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        # CloudFormation deletes a stack's secret at once, with no recovery window.
        self._backend(account_id, region_name).delete_secret(self.arn, None, True)


def secret_value(backend: Any, properties: dict[str, Any]) -> str | None:
    """SecretString, or a value made per GenerateSecretString; None for an empty secret."""
    if "SecretString" in properties:
        return str(properties["SecretString"])
    spec = properties.get("GenerateSecretString")
    if spec is None:
        return None
    generated = backend.get_random_password(
        password_length=int(spec.get("PasswordLength", 32)),
        exclude_characters=spec.get("ExcludeCharacters", ""),
        exclude_numbers=_flag(spec.get("ExcludeNumbers")),
        exclude_punctuation=_flag(spec.get("ExcludePunctuation")),
        exclude_uppercase=_flag(spec.get("ExcludeUppercase")),
        exclude_lowercase=_flag(spec.get("ExcludeLowercase")),
        include_space=_flag(spec.get("IncludeSpace")),
        require_each_included_type=_flag(spec.get("RequireEachIncludedType", True)),
    )
    password = json.loads(generated)["RandomPassword"]
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if template is None or key is None:
        return password
    document = json.loads(template)
    document[key] = password
    return json.dumps(document)


class ScheduleResource(_Bridged, CloudFormationModel):
    """AWS::Scheduler::Schedule in moto's EventBridge Scheduler; Ref gives its name."""

    resource_type = "AWS::Scheduler::Schedule"
    name_property = "Name"
    physical_id = "name"
    backends = ("moto.scheduler.models", "scheduler_backends")
    attributes = ("Arn",)

    def __init__(
        self,
        account_id: str,
        region_name: str,
        name: str,
        group_name: str | None,
        arn: str,
        properties: dict[str, Any],
    ):
        super().__init__(account_id, region_name, properties)
        self.name = name
        self.group_name = group_name
        self.arn = arn

    @staticmethod
    def _arguments(properties: dict[str, Any]) -> dict[str, Any]:
        return {
            "description": properties.get("Description"),
            "end_date": _epoch(properties.get("EndDate")),
            "flexible_time_window": properties["FlexibleTimeWindow"],
            "kms_key_arn": properties.get("KmsKeyArn"),
            "schedule_expression": properties["ScheduleExpression"],
            "schedule_expression_timezone": properties.get("ScheduleExpressionTimezone"),
            "start_date": _epoch(properties.get("StartDate")),
            "state": properties.get("State") or "ENABLED",
            # moto fills defaults into the target it is given: give it a copy.
            "target": copy.deepcopy(properties["Target"]),
        }

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_kwargs: Any,
    ) -> ScheduleResource:
        properties = cloudformation_json.get("Properties", {})
        name = properties.get("Name", resource_name)
        group = properties.get("GroupName")
        schedule = cls._backend(account_id, region_name).create_schedule(
            name=name,
            group_name=group,
            action_after_completion=None,
            **cls._arguments(properties),
        )
        return cls(account_id, region_name, name, group, schedule.arn, properties)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
        cls,
        original_resource: ScheduleResource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> ScheduleResource:
        properties = cloudformation_json.get("Properties", {})
        name = properties.get("Name", original_resource.name)
        group = properties.get("GroupName")
        if (name, group) != (original_resource.name, original_resource.group_name):
            return cls._replace(
                original_resource, name, cloudformation_json, account_id, region_name
            )
        cls._backend(account_id, region_name).update_schedule(
            name=name, group_name=group, **cls._arguments(properties)
        )
        original_resource.properties = copy.deepcopy(properties)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.scheduler.exceptions import ScheduleGroupNotFound, ScheduleNotFound

        # Deleted already is what CloudFormation wanted.
        with suppress(ScheduleNotFound, ScheduleGroupNotFound):
            self._backend(account_id, region_name).delete_schedule(self.group_name, self.name)


class FunctionUrlResource(_Bridged, CloudFormationModel):
    """AWS::Lambda::Url: the target function's URL config; Ref gives the function's ARN.

    The local Lambda backend serves the URL on 127.0.0.1, so `FunctionUrl` is
    `http://127.0.0.1:<port>/` where AWS gives `https://<id>.lambda-url.<region>.on.aws/`.
    """

    resource_type = "AWS::Lambda::Url"
    physical_id = "function_arn"
    attributes = ("FunctionUrl", "FunctionArn")

    def __init__(
        self, account_id: str, region_name: str, function_arn: str, properties: dict[str, Any]
    ):
        super().__init__(account_id, region_name, properties)
        self.function_arn = function_arn

    def _attribute(self, attribute_name: str) -> str:
        if attribute_name == "FunctionArn":
            return self.function_arn
        return (
            self._backend(self.account_id, self.region_name)
            .get_function_url_config(self.function_arn)
            .url
        )

    @classmethod
    def _backend(cls, account_id: str, region_name: str) -> Any:
        return lambda_backend(account_id, region_name)

    @staticmethod
    def _config(properties: dict[str, Any]) -> dict[str, Any]:
        config = {k: properties.get(k) for k in ("AuthType", "Cors", "InvokeMode")}
        return {k: v for k, v in config.items() if v is not None}

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_kwargs: Any,
    ) -> FunctionUrlResource:
        properties = cloudformation_json.get("Properties", {})
        backend = cls._backend(account_id, region_name)
        url_config = backend.create_function_url_config(
            properties["TargetFunctionArn"], cls._config(properties)
        )
        return cls(account_id, region_name, url_config.function.function_arn, properties)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
        cls,
        original_resource: FunctionUrlResource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> FunctionUrlResource:
        properties = cloudformation_json.get("Properties", {})
        old = original_resource.properties
        if any(old.get(k) != properties.get(k) for k in ("TargetFunctionArn", "Qualifier")):
            return cls._replace(
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )
        config = cls._config(properties)
        url_config = cls._backend(account_id, region_name).update_function_url_config(
            original_resource.function_arn, config
        )
        url_config.config = config  # moto's update keeps what the template no longer sets
        original_resource.properties = copy.deepcopy(properties)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.awslambda.exceptions import LambdaClientError

        # A function that is gone took its URL with it.
        with suppress(LambdaClientError):
            self._backend(account_id, region_name).delete_function_url_config(self.function_arn)


class AlarmResource(_Bridged, CloudFormationModel):
    """AWS::CloudWatch::Alarm (a metric alarm) in moto's CloudWatch; Ref gives its name."""

    resource_type = "AWS::CloudWatch::Alarm"
    name_property = "AlarmName"
    physical_id = "name"
    backends = ("moto.cloudwatch.models", "cloudwatch_backends")
    attributes = ("Arn",)

    def __init__(
        self, account_id: str, region_name: str, name: str, arn: str, properties: dict[str, Any]
    ):
        super().__init__(account_id, region_name, properties)
        self.name = name
        self.arn = arn

    @classmethod
    def _put(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> str:
        """PutMetricAlarm with the template's properties (numbers may arrive as text through
        parameters); returns the alarm's ARN."""

        def number(key: str, kind: Callable[[Any], Any] = int) -> Any:
            value = properties.get(key)
            return None if value is None else kind(value)

        alarm = cls._backend(account_id, region).put_metric_alarm(
            name=name,
            namespace=properties.get("Namespace"),
            metric_name=properties.get("MetricName"),
            comparison_operator=properties["ComparisonOperator"],
            evaluation_periods=number("EvaluationPeriods"),
            period=number("Period"),
            threshold=number("Threshold", float),
            statistic=properties.get("Statistic"),
            description=properties.get("AlarmDescription"),
            dimensions=copy.deepcopy(properties.get("Dimensions") or []),
            alarm_actions=list(properties.get("AlarmActions") or []),
            datapoints_to_alarm=number("DatapointsToAlarm"),
            extended_statistic=properties.get("ExtendedStatistic"),
            ok_actions=list(properties.get("OKActions") or []),
            insufficient_data_actions=list(properties.get("InsufficientDataActions") or []),
            unit=properties.get("Unit"),
            actions_enabled=_flag(properties.get("ActionsEnabled", True)),
            treat_missing_data=properties.get("TreatMissingData"),
            metric_data_queries=_metric_queries(properties.get("Metrics")),
            threshold_metric_id=properties.get("ThresholdMetricId"),
        )
        return str(alarm.alarm_arn)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_kwargs: Any,
    ) -> AlarmResource:
        properties = cloudformation_json.get("Properties", {})
        name = properties.get("AlarmName", resource_name)
        arn = cls._put(name, properties, account_id, region_name)
        return cls(account_id, region_name, name, arn, properties)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
        cls,
        original_resource: AlarmResource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> AlarmResource:
        properties = cloudformation_json.get("Properties", {})
        name = properties.get("AlarmName", original_resource.name)
        if name != original_resource.name:
            return cls._replace(
                original_resource, name, cloudformation_json, account_id, region_name
            )
        # PutMetricAlarm on an existing name replaces its definition, as an update does.
        cls._put(name, properties, account_id, region_name)
        original_resource.properties = copy.deepcopy(properties)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        self._backend(account_id, region_name).delete_alarms([self.name])


def _metric_queries(metrics: list[dict[str, Any]] | None) -> list[Any] | None:
    """An alarm's `Metrics` (metric math) as moto's PutMetricAlarm stores them: the same
    MetricDataQuery objects, with the same raw values, that moto's API handler builds."""
    if not metrics:
        return None
    from moto.cloudwatch import models

    # moto annotates every field as str; its handler passes the request's values as they are.
    dimension: Any = models.Dimension
    metric_of: Any = models.Metric
    stat_of: Any = models.MetricStat
    query_of: Any = models.MetricDataQuery
    queries = []
    for query in metrics:
        stat = query.get("MetricStat") or {}
        metric = stat.get("Metric") or {}
        metric_stat = None
        if metric.get("MetricName"):
            dimensions = [
                dimension(name=d.get("Name"), value=d.get("Value"))
                for d in metric.get("Dimensions") or []
            ]
            metric_stat = stat_of(
                metric=metric_of(
                    metric_name=metric["MetricName"],
                    namespace=metric.get("Namespace"),
                    dimensions=dimensions,
                ),
                period=stat.get("Period"),
                stat=stat.get("Stat"),
                unit=stat.get("Unit"),
            )
        queries.append(
            query_of(
                query_id=query.get("Id"),
                label=query.get("Label"),
                period=query.get("Period"),
                return_data=query.get("ReturnData", True),
                expression=query.get("Expression"),
                metric_stat=metric_stat,
            )
        )
    return queries


def _flag(value: Any) -> bool:
    """A CloudFormation boolean: true, or "true" when it came through a parameter."""
    return value is True or str(value).lower() == "true"


def _epoch(value: Any) -> float | None:
    """A CloudFormation timestamp (ISO 8601 text) as the epoch seconds moto's API stores."""
    if value is None or isinstance(value, int | float):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
