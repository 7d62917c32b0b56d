"""`mlops template|upsert|deploy|start`: the commands that act on an AWS account.

They reach AWS through boto3's default credential chain (clients.session.aws_account), or
the embedded local AWS with `--local`; never the local AWS by default. Each returns an exit
code and writes results to stdout, progress to stderr.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from clients import sagemaker as sm
from clients.cloudformation import CREATED, UNCHANGED, UPDATED
from clients.session import Target, aws_account, local_account
from core import names
from core.errors import EXIT_FAILED, EXIT_OK, DeployError, UsageError
from core.settings import Settings

#: Environment variables the commands read (CodeBuild sets them; buildspec.yml lists them).
ENV_SAGEMAKER_ROLE_ARN = "SAGEMAKER_ROLE_ARN"
ENV_STACK_NAME = "STACK_NAME"
ENV_DEPLOY_ROLE_ARN = "DEPLOY_ROLE_ARN"


@dataclass(frozen=True)
class Account:
    """Where a command acts: --local, or --profile/--region through the default chain."""

    local: bool = False
    profile: str | None = None
    region: str | None = None


def render_template(settings: Settings, ci: bool) -> str:
    """`mlops template [--ci]`: the workflow stack's template, or the CI stack's."""
    from deploy.template import render, workflow_template

    if ci:
        from deploy.ci import build_ci_template

        return render(build_ci_template(settings))
    return render(workflow_template(settings))


def upsert(settings: Settings, role_arn: str | None, account: Account, out: TextIO) -> int:
    """Create or update the pipeline; an unchanged definition is not sent again."""
    from mlops.builds import build_definition

    with _connect(settings, account, "upsert") as (target, settings):
        settings = dataclasses.replace(
            settings, role_arn=_sagemaker_role(settings, role_arn, target)
        )
        definition = build_definition(settings, target)
        sagemaker = target.client("sagemaker")
        existed = sm.pipeline_definition(sagemaker, settings.pipeline_name) is not None
        changed = sm.upsert_pipeline(
            sagemaker, settings.pipeline_name, settings.role_arn, definition, settings.project_tags
        )
    outcome = (UPDATED if existed else CREATED) if changed else UNCHANGED
    print(f"Pipeline {settings.pipeline_name}: {outcome}", file=out)
    return EXIT_OK


def deploy(
    settings: Settings,
    stack_name: str,
    role_arn: str | None,
    deploy_role_arn: str | None,
    parameters: Sequence[str],
    account: Account,
    out: TextIO,
) -> int:
    """Upload the function's zip, then create or update the stack through a change set."""
    from deploy import template as tpl
    from deploy.workflow_stack import deploy_workflow_stack, parse_template_parameters

    template = tpl.workflow_template(settings)
    overrides = parse_template_parameters(parameters, template)
    with _connect(settings, account, "deploy") as (target, settings):
        overrides[tpl.SAGEMAKER_ROLE_ARN] = _sagemaker_role(settings, role_arn, target)
        result = deploy_workflow_stack(
            target,
            settings,
            template,
            stack_name,
            overrides,
            deploy_role_arn=deploy_role_arn or os.environ.get(ENV_DEPLOY_ROLE_ARN) or None,
            log=lambda line: print(line, file=sys.stderr),
        )
    print(f"Stack {stack_name}: {result.outcome}", file=out)
    print(f"Review URL base: {result.outputs.get(tpl.OUT_REVIEW_URL_BASE, '(none)')}", file=out)
    print(f"State machine: {result.outputs.get(tpl.OUT_STATE_MACHINE_ARN, '(none)')}", file=out)
    for key_name, value in sorted(result.outputs.items()):
        if key_name not in {tpl.OUT_REVIEW_URL_BASE, tpl.OUT_STATE_MACHINE_ARN}:
            print(f"  {key_name}: {value}", file=out)
    return EXIT_OK


def start(
    settings: Settings,
    stack_name: str,
    state_machine_arn: str | None,
    params: Sequence[str],
    follow: bool,
    account: Account,
    out: TextIO,
    workflow_poll_seconds: int | None = None,
) -> int:
    """Start the deployed workflow; with `follow`, report its progress until it ends."""
    from clients import stepfunctions as sfn_client
    from clients.cloudformation import stack_outputs
    from core.contracts import POLL_SECONDS, SAGEMAKER_PROJECT, execution_input
    from deploy.template import OUT_STATE_MACHINE_ARN
    from mlops.follow import ExecutionFollower
    from mlops.params import parse_params
    from mlops.pipeline_run import step_types
    from mlops.progress import Progress

    with _connect(settings, account, "start") as (target, settings):
        sagemaker = target.client("sagemaker")
        definition = sm.pipeline_definition(sagemaker, settings.pipeline_name)
        if definition is None:
            raise UsageError(
                f"pipeline {settings.pipeline_name} does not exist: run `mlops upsert` first"
            )
        overrides = parse_params(params, json.loads(definition))
        if not state_machine_arn:
            outputs = stack_outputs(target.client("cloudformation"), stack_name)
            state_machine_arn = outputs.get(OUT_STATE_MACHINE_ARN)
            if not state_machine_arn:
                raise DeployError(f"stack {stack_name} has no {OUT_STATE_MACHINE_ARN} output")
        sfn = target.client("stepfunctions")
        payload = execution_input(
            overrides,
            **{
                POLL_SECONDS: workflow_poll_seconds,
                SAGEMAKER_PROJECT: settings.sagemaker_project,
            },
        )
        arn = sfn_client.start_execution(
            sfn, state_machine_arn, sfn_client.execution_name(), payload
        )
        print(f"Execution: {arn}", file=out, flush=True)
        if not follow:
            return EXIT_OK
        follower = ExecutionFollower(
            sfn,
            sagemaker,
            arn,
            step_types(json.loads(definition)),
            Progress(out),
            on_approval=lambda opened: print(
                f"Approval {opened.approval_id}: the review link was sent to "
                f"{', '.join(opened.notified) or 'nobody'}",
                file=out,
                flush=True,
            ),
        )
        status = follower.follow(interval=2.0)
    print(f"Execution {status.lower()}", file=out)
    return EXIT_OK if status == sfn_client.SUCCEEDED else EXIT_FAILED


def default_stack_name(settings: Settings) -> str:
    return os.environ.get(ENV_STACK_NAME) or names.stack_name(settings)


@contextmanager
def _connect(
    settings: Settings, account: Account, command: str
) -> Iterator[tuple[Target, Settings]]:
    """The account to act on, and AWS failures as DeployError (one line, exit 1)."""
    try:
        if account.local:
            print(
                f"mlops {command}: using the embedded local AWS (--local; nothing persists "
                "after this command)",
                file=sys.stderr,
            )
            with local_account(account.region or settings.region) as target:
                yield target, dataclasses.replace(settings, region=target.region)
        else:
            target = aws_account(account.profile, account.region)
            yield target, dataclasses.replace(settings, region=target.region)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise DeployError(
            f"{exc.operation_name}: {error.get('Code', '?')}: {error.get('Message', exc)}"
        ) from None
    except BotoCoreError as exc:
        raise DeployError(str(exc)) from None


def _sagemaker_role(settings: Settings, role_arn: str | None, target: Target) -> str:
    """--role-arn, else SAGEMAKER_ROLE_ARN, else Settings (MLOPS_ROLE_ARN)."""
    chosen = role_arn or os.environ.get(ENV_SAGEMAKER_ROLE_ARN) or settings.role_arn
    if target.local is None and chosen == Settings().role_arn and target.account_id not in chosen:
        raise UsageError(
            f"no SageMaker execution role for account {target.account_id}: pass --role-arn or "
            f"set {ENV_SAGEMAKER_ROLE_ARN}"
        )
    return chosen
