"""What SageMaker refuses in a definition before an execution starts, found before any step runs.

Each problem names the step and the field, so a definition the executor would fail on midway
(after earlier jobs ran for minutes) fails at once instead:

- A typed parameter (Integer, Float, Boolean) placed where the API takes a string. SageMaker
  refuses the pipeline at CreatePipeline/UpdatePipeline with `ValidationException: Cannot
  assign property reference [Parameters.X] to argument of type [String]`
  (aws/sagemaker-python-sdk#4867, #2631); the SDK's fix is `Join` (`.to_string()`). A field's
  type is that of botocore's request shape for the API the step calls (CreateProcessingJob,
  CreateTrainingJob, ...), the model SageMaker's own API is generated from.
- References that cannot resolve: an undeclared parameter ("All parameters used in step
  definitions must be defined in your pipeline definition", AWS's Pipeline Parameters page), an
  unknown execution variable, a property a step does not have (its Describe* response shape, as
  the SDK's `Properties` type step properties) or a PropertyFile it does not declare.
"""

from __future__ import annotations

from typing import Any

from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from localaws.executor.errors import DefinitionError
from localaws.executor.expressions import ExpressionError, path_segments
from localaws.executor.plan import PlannedStep
from localaws.executor.quality_check import PROPERTIES as QUALITY_CHECK_PROPERTIES
from localaws.executor.quality_check import check_fields

#: The API each step type calls: its request shape types the step's Arguments.
REQUEST_SHAPES = {
    "Processing": "CreateProcessingJob",
    "QualityCheck": "CreateProcessingJob",
    "Training": "CreateTrainingJob",
    "Transform": "CreateTransformJob",
    "Model": "CreateModel",
    "RegisterModel": "CreateModelPackage",
}
#: The shape of each step type's properties, as sagemaker.workflow.steps declares them.
PROPERTY_SHAPES = {
    "Processing": "DescribeProcessingJobResponse",
    "Training": "DescribeTrainingJobResponse",
    "Transform": "DescribeTransformJobResponse",
    "Model": "DescribeModelOutput",
    "RegisterModel": "DescribeModelPackageOutput",
}
#: sagemaker.workflow.execution_variables.ExecutionVariables.
EXECUTION_VARIABLES = frozenset(
    {
        "StartDateTime",
        "CurrentDateTime",
        "PipelineName",
        "PipelineArn",
        "PipelineExecutionId",
        "PipelineExecutionArn",
        "TrainingJobName",
        "ProcessingJobName",
    }
)
#: Parameter types SageMaker will not place in a string field.
_TYPED = ("Integer", "Float", "Boolean")


def check_definition(
    steps: list[PlannedStep], parameters: list[dict[str, Any]], model: ServiceModel
) -> None:
    """Raise DefinitionError naming the first step and field SageMaker would refuse."""
    declared = {str(p.get("Name")): str(p.get("Type", "String")) for p in parameters}
    by_name = {step.name: step for step in steps}
    for step in steps:
        operation = REQUEST_SHAPES.get(step.type)
        shape = model.operation_model(operation).input_shape if operation else None
        arguments = step.arguments
        if step.type == "Condition":  # its branches are steps of their own
            arguments = {"Conditions": arguments.get("Conditions")}
        walk = _Walk(step, declared, by_name, model)
        walk.value(arguments, shape, "Arguments")
        if step.type == "QualityCheck":  # its check fields: references only, no API shape
            for key, value in check_fields(step.spec).items():
                walk.value(value, None, key)


class _Walk:
    """One step's Arguments, walked beside the request shape that types them."""

    def __init__(
        self,
        step: PlannedStep,
        declared: dict[str, str],
        steps: dict[str, PlannedStep],
        model: ServiceModel,
    ) -> None:
        self.step, self.declared, self.steps, self.model = step, declared, steps, model

    def fail(self, field: str, problem: str) -> DefinitionError:
        return DefinitionError(f"step {self.step.name}: {field}: {problem}")

    def value(self, value: Any, shape: Shape | None, field: str) -> None:
        if isinstance(value, dict) and len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Get":
                self.get(argument, shape, field)
                return
            if key in ("Std:Join", "Std:JsonGet"):  # text or JSON: no field type to match
                self.value(argument, None, f"{field}.{key}")
                return
        if isinstance(value, dict):
            for key, item in value.items():
                self.value(item, _member(shape, key), f"{field}.{key}")
        elif isinstance(value, list):
            inner = shape.member if isinstance(shape, ListShape) else None
            for index, item in enumerate(value):
                self.value(item, inner, f"{field}[{index}]")

    def get(self, path: Any, shape: Shape | None, field: str) -> None:
        if not isinstance(path, str):
            raise self.fail(field, f"Get {path!r}: expected a string such as 'Parameters.Name'")
        root, _, rest = path.partition(".")
        if root == "Parameters":
            kind = self.declared.get(rest)
            if kind is None:
                known = ", ".join(sorted(self.declared)) or "none"
                raise self.fail(
                    field, f"Get {path}: no such pipeline parameter (declared: {known})"
                )
            if kind in _TYPED and shape is not None and shape.type_name == "string":
                raise self.fail(
                    field,
                    f"Cannot assign property reference [{path}] to argument of type [String] "
                    f"({kind} parameter {rest} in a string field; SageMaker refuses this at "
                    "CreatePipeline). Use Std:Join, in the SDK `.to_string()`, or a "
                    "ParameterString",
                )
        elif root == "Execution":
            if rest not in EXECUTION_VARIABLES:
                known = ", ".join(sorted(EXECUTION_VARIABLES))
                raise self.fail(field, f"Get {path}: no such execution variable (known: {known})")
        elif root == "Steps":
            name, _, prop = rest.partition(".")
            self.step_property(self.steps.get(name), prop, f"Get {path}", field)
        else:
            raise self.fail(field, f"Get {path}: expected Parameters., Execution. or Steps.")

    def step_property(self, step: PlannedStep | None, prop: str, what: str, field: str) -> None:
        if step is None:  # plan() names unknown steps; kept for direct callers
            raise self.fail(field, f"{what}: no such step")
        try:
            keys = path_segments(prop, what)
        except ExpressionError as exc:
            raise self.fail(field, str(exc)) from None
        if not keys:
            raise self.fail(field, f"{what}: names a step, not one of its properties")
        if step.type == "Condition":
            if keys != ["Outcome"]:
                raise self.fail(field, f"{what}: a Condition step has only the property Outcome")
            return
        if step.type == "QualityCheck":
            if len(keys) != 1 or keys[0] not in QUALITY_CHECK_PROPERTIES:
                listed = ", ".join(QUALITY_CHECK_PROPERTIES)
                raise self.fail(field, f"{what}: a QualityCheck step's properties are {listed}")
            return
        if step.type == "Processing" and keys[0] == "PropertyFiles":
            declared = [f.get("PropertyFileName") for f in step.spec.get("PropertyFiles") or []]
            if len(keys) < 2 or keys[1] not in declared:
                listed = ", ".join(map(str, declared)) or "none"
                raise self.fail(field, f"{what}: no such PropertyFile (declared: {listed})")
            return
        shape_name = PROPERTY_SHAPES.get(step.type)
        if shape_name is None:  # Lambda outputs and the like: no shape to check against
            return
        shape: Shape | None = self.model.shape_for(shape_name)
        for index, key in enumerate(keys):
            inner = _property(shape, key)
            if inner is None:
                walked = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys[:index])
                raise self.fail(
                    field,
                    f"{what}: a {step.type} step has no property {key!r} in "
                    f"{shape_name}{walked} (step {step.name}'s properties are that shape)",
                )
            shape = inner


def _member(shape: Shape | None, key: str) -> Shape | None:
    """The shape of `key` inside an object of `shape` (a structure's member, a map's value)."""
    if isinstance(shape, StructureShape):
        return shape.members.get(key)
    if isinstance(shape, MapShape):
        return shape.value
    return None


def _property(shape: Shape | None, key: str | int) -> Shape | None:
    """One step of a property path: a member by name, a list item by index or by its name
    (`Outputs['train']`, `FinalMetricDataList['rmse']`), a map value by key."""
    if isinstance(shape, StructureShape) and isinstance(key, str):
        return shape.members.get(key)
    if isinstance(shape, ListShape):
        return shape.member
    if isinstance(shape, MapShape) and isinstance(key, str):
        return shape.value
    return None
