"""The CI stack's template: a CodeBuild project that runs buildspec.yml on every push to main.

Three roles, each with only what its job needs:

* CodeBuild's role runs the build: its own logs, the artifact bucket, create/update/describe
  of the one pipeline, change sets on the one workflow stack, and passing two roles (the
  SageMaker execution role to SageMaker, the deploy role to CloudFormation).
* The deploy role is what CloudFormation uses to create the workflow stack's resources, so
  the build itself can create no IAM roles and no functions. Its actions are what the
  resource types' CloudFormation handlers call, scoped to this project's resource names.
* For CodeCommit (which has no webhooks), an EventBridge rule starts the build on a push,
  through a role that may start this one project.
"""

from __future__ import annotations

from typing import Any

from core import names
from core.settings import Settings
from deploy import iam
from deploy.iam import Json, arn, get_att, ref, sub
from deploy.template import TEMPLATE_FORMAT

BUILDSPEC = "buildspec.yml"
BUILD_IMAGE = "aws/codebuild/standard:7.0"
BUILD_TIMEOUT_MINUTES = 60
CI_LOG_RETENTION_DAYS = 30

# Parameters.
SOURCE_TYPE = "SourceType"
REPOSITORY_URL = "RepositoryUrl"
CODECOMMIT_REPOSITORY = "CodeCommitRepositoryName"
BRANCH = "Branch"
ARTIFACT_BUCKET = "ArtifactBucket"
SAGEMAKER_ROLE_ARN = "SageMakerRoleArn"
STACK_NAME = "StackName"

IS_GITHUB = "IsGitHub"
IS_CODECOMMIT = "IsCodeCommit"

PROJECT = "BuildProject"
BUILD_ROLE = "BuildRole"
BUILD_LOGS = "BuildLogGroup"
DEPLOY_ROLE = "DeployRole"
PUSH_RULE = "CodeCommitPushRule"
PUSH_RULE_ROLE = "CodeCommitPushRuleRole"

#: Environment variables of the build; buildspec.yml documents each.
ENV_STACK_NAME = "STACK_NAME"
ENV_SAGEMAKER_ROLE_ARN = "SAGEMAKER_ROLE_ARN"
ENV_BUCKET = "MLOPS_BUCKET"
ENV_DEPLOY_ROLE_ARN = "DEPLOY_ROLE_ARN"


def build_ci_template(settings: Settings) -> Json:
    """The CI stack as a dict (render with deploy.template.render)."""
    return {
        "AWSTemplateFormatVersion": TEMPLATE_FORMAT,
        "Description": f"{settings.project}: CodeBuild upserts the pipeline and deploys the "
        "workflow stack on every push",
        "Parameters": _parameters(settings),
        "Conditions": {
            IS_GITHUB: {"Fn::Equals": [ref(SOURCE_TYPE), "GITHUB"]},
            IS_CODECOMMIT: {"Fn::Equals": [ref(SOURCE_TYPE), "CODECOMMIT"]},
        },
        "Resources": {
            BUILD_LOGS: {
                "Type": "AWS::Logs::LogGroup",
                "DeletionPolicy": "Delete",
                "UpdateReplacePolicy": "Delete",
                "Properties": {
                    "LogGroupName": names.ci_log_group(settings),
                    "RetentionInDays": CI_LOG_RETENTION_DAYS,
                },
            },
            BUILD_ROLE: iam.role(
                "CodeBuild: upsert the pipeline, deploy the workflow stack",
                "codebuild",
                "build",
                _build_statements(settings),
            ),
            DEPLOY_ROLE: iam.role(
                "CloudFormation: create and update the workflow stack's resources",
                "cloudformation",
                "deploy-workflow-stack",
                _deploy_statements(settings),
            ),
            PROJECT: _project(settings),
            PUSH_RULE_ROLE: {
                **iam.role(
                    "EventBridge: start the build on a push to the CodeCommit branch",
                    "events",
                    "start-build",
                    [iam.statement(["codebuild:StartBuild"], get_att(PROJECT, "Arn"))],
                ),
                "Condition": IS_CODECOMMIT,
            },
            PUSH_RULE: {
                "Type": "AWS::Events::Rule",
                "Condition": IS_CODECOMMIT,
                "Properties": {
                    "Description": "A push to the branch starts the build",
                    "EventPattern": {
                        "source": ["aws.codecommit"],
                        "detail-type": ["CodeCommit Repository State Change"],
                        "resources": [_codecommit_arn()],
                        "detail": {
                            "event": ["referenceCreated", "referenceUpdated"],
                            "referenceType": ["branch"],
                            "referenceName": [ref(BRANCH)],
                        },
                    },
                    "Targets": [
                        {
                            "Id": "build",
                            "Arn": get_att(PROJECT, "Arn"),
                            "RoleArn": get_att(PUSH_RULE_ROLE, "Arn"),
                        }
                    ],
                },
            },
        },
        "Outputs": {
            "ProjectName": {"Description": "The CodeBuild project", "Value": ref(PROJECT)},
            "DeployRoleArn": {
                "Description": "CloudFormation's role for the workflow stack",
                "Value": get_att(DEPLOY_ROLE, "Arn"),
            },
        },
    }


def _parameters(settings: Settings) -> Json:
    return {
        SOURCE_TYPE: {
            "Type": "String",
            "Description": "Where the repository lives",
            "AllowedValues": ["GITHUB", "CODECOMMIT"],
            "Default": "GITHUB",
        },
        REPOSITORY_URL: {
            "Type": "String",
            "Description": "HTTPS clone URL, e.g. https://github.com/OWNER/REPO.git",
            "AllowedPattern": "^https://.+$",
        },
        CODECOMMIT_REPOSITORY: {
            "Type": "String",
            "Description": "CodeCommit repository name (read only with SourceType CODECOMMIT)",
            "Default": "unused",
            "AllowedPattern": r"^[\w.-]{1,100}$",
        },
        BRANCH: {"Type": "String", "Description": "Branch that deploys", "Default": "main"},
        ARTIFACT_BUCKET: {
            "Type": "String",
            "Description": "S3 bucket for the pipeline's code and data and the function zip",
        },
        SAGEMAKER_ROLE_ARN: {
            "Type": "String",
            "Description": "SageMaker execution role of the pipeline and the model",
            "AllowedPattern": r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$",
        },
        STACK_NAME: {
            "Type": "String",
            "Description": "Name of the workflow stack the build deploys",
            "Default": names.stack_name(settings),
        },
    }


def _project(settings: Settings) -> Json:
    def env(name: str, value: Any) -> Json:
        return {"Name": name, "Type": "PLAINTEXT", "Value": value}

    push_to_branch = [
        {"Type": "EVENT", "Pattern": "PUSH"},
        {"Type": "HEAD_REF", "Pattern": sub(f"^refs/heads/${{{BRANCH}}}$")},
    ]
    return {
        "Type": "AWS::CodeBuild::Project",
        "Properties": {
            "Name": names.ci_project_name(settings),
            "Description": "Tests, upserts the SageMaker pipeline, deploys the workflow stack",
            "ServiceRole": get_att(BUILD_ROLE, "Arn"),
            "Source": {
                "Type": ref(SOURCE_TYPE),
                "Location": ref(REPOSITORY_URL),
                "BuildSpec": BUILDSPEC,
                "GitCloneDepth": 1,
            },
            "SourceVersion": {
                "Fn::If": [IS_CODECOMMIT, sub(f"refs/heads/${{{BRANCH}}}"), ref(BRANCH)]
            },
            "Artifacts": {"Type": "NO_ARTIFACTS"},
            "Environment": {
                "Type": "LINUX_CONTAINER",
                "ComputeType": "BUILD_GENERAL1_SMALL",
                "Image": BUILD_IMAGE,
                "EnvironmentVariables": [
                    env(ENV_STACK_NAME, ref(STACK_NAME)),
                    env(ENV_SAGEMAKER_ROLE_ARN, ref(SAGEMAKER_ROLE_ARN)),
                    env(ENV_BUCKET, ref(ARTIFACT_BUCKET)),
                    env(ENV_DEPLOY_ROLE_ARN, get_att(DEPLOY_ROLE, "Arn")),
                ],
            },
            "LogsConfig": {"CloudWatchLogs": {"Status": "ENABLED", "GroupName": ref(BUILD_LOGS)}},
            "TimeoutInMinutes": BUILD_TIMEOUT_MINUTES,
            # One deployment at a time: two builds racing on one stack would fail one.
            "ConcurrentBuildLimit": 1,
            "Triggers": {
                "Fn::If": [
                    IS_GITHUB,
                    {"Webhook": True, "FilterGroups": [push_to_branch]},
                    ref("AWS::NoValue"),
                ]
            },
        },
    }


def _codecommit_arn() -> Json:
    return arn("codecommit", f"${{{CODECOMMIT_REPOSITORY}}}")


def _stack_arn() -> Json:
    return arn("cloudformation", f"stack/${{{STACK_NAME}}}/*")


def _bucket(objects: bool) -> Json:
    return sub(f"arn:${{AWS::Partition}}:s3:::${{{ARTIFACT_BUCKET}}}{'/*' if objects else ''}")


def _build_statements(settings: Settings) -> list[Json]:
    pipeline = iam.sagemaker_resources(settings, names.endpoint_prefix(settings))["pipeline"]
    return [
        iam.log_writing(get_att(BUILD_LOGS, "Arn")),
        iam.statement(["s3:GetObject", "s3:PutObject"], _bucket(objects=True)),
        iam.statement(
            ["s3:ListBucket", "s3:GetBucketNotification", "s3:PutBucketNotification"],
            _bucket(objects=False),
        ),
        # The SageMaker SDK lists buckets to check its default bucket exists; no resource type.
        iam.statement(["s3:ListAllMyBuckets"], "*"),
        iam.statement(
            ["sagemaker:CreatePipeline", "sagemaker:DescribePipeline", "sagemaker:UpdatePipeline"],
            pipeline,
        ),
        iam.pass_role(ref(SAGEMAKER_ROLE_ARN), "sagemaker"),
        iam.statement(
            [
                "cloudformation:CreateChangeSet",
                "cloudformation:DeleteChangeSet",
                "cloudformation:DescribeChangeSet",
                "cloudformation:DescribeStackEvents",
                "cloudformation:DescribeStacks",
                "cloudformation:ExecuteChangeSet",
            ],
            _stack_arn(),
        ),
        iam.pass_role(get_att(DEPLOY_ROLE, "Arn"), "cloudformation"),
        {
            "Fn::If": [
                IS_CODECOMMIT,
                iam.statement(["codecommit:GitPull"], _codecommit_arn()),
                ref("AWS::NoValue"),
            ]
        },
    ]


def _deploy_statements(settings: Settings) -> list[Json]:
    """What the workflow stack's CloudFormation handlers call, on this project's names."""
    stack_roles = arn("iam", f"role/${{{STACK_NAME}}}-*", region=False)
    functions = [
        arn("lambda", f"function:{name}")
        for name in (settings.approval_function_name, names.smoke_test_function_name(settings))
    ]
    log_groups = [
        arn("logs", f"log-group:{group}*")
        for group in (names.function_log_group(settings), names.smoke_test_log_group(settings))
    ]
    return [
        iam.statement(
            [
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
                "iam:UpdateAssumeRolePolicy",
                "iam:PutRolePolicy",
                "iam:GetRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:TagRole",
                "iam:UntagRole",
            ],
            stack_roles,
        ),
        iam.pass_role(stack_roles, "states", "lambda", "scheduler", "events"),
        iam.statement(
            [
                "states:CreateStateMachine",
                "states:UpdateStateMachine",
                "states:DeleteStateMachine",
                "states:DescribeStateMachine",
                "states:TagResource",
                "states:UntagResource",
                "states:ListTagsForResource",
            ],
            arn("states", f"stateMachine:{settings.state_machine_name}"),
        ),
        iam.statement(
            [
                "lambda:CreateFunction",
                "lambda:DeleteFunction",
                "lambda:GetFunction",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:PublishVersion",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:PutFunctionConcurrency",
                "lambda:DeleteFunctionConcurrency",
                "lambda:GetFunctionCodeSigningConfig",
                "lambda:GetFunctionRecursionConfig",
                "lambda:PutFunctionRecursionConfig",
                "lambda:GetFunctionScalingConfig",
                "lambda:GetRuntimeManagementConfig",
                "lambda:PutRuntimeManagementConfig",
                "lambda:AddPermission",
                "lambda:RemovePermission",
                "lambda:GetPolicy",
                "lambda:CreateFunctionUrlConfig",
                "lambda:UpdateFunctionUrlConfig",
                "lambda:DeleteFunctionUrlConfig",
                "lambda:GetFunctionUrlConfig",
            ],
            functions,
        ),
        iam.statement(["s3:GetObject", "s3:GetObjectVersion"], _bucket(objects=True)),
        iam.statement(
            [
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
                "logs:ListTagsForResource",
                "logs:GetDataProtectionPolicy",
            ],
            log_groups,
        ),
        # Describe* of log groups and their policies authorize on no resource type.
        iam.statement(
            [
                "logs:DescribeLogGroups",
                "logs:DescribeIndexPolicies",
                "logs:DescribeResourcePolicies",
            ],
            "*",
        ),
        iam.statement(
            [
                "dynamodb:CreateTable",
                "dynamodb:DeleteTable",
                "dynamodb:DescribeTable",
                "dynamodb:UpdateTable",
                "dynamodb:DescribeTimeToLive",
                "dynamodb:UpdateTimeToLive",
                "dynamodb:DescribeContinuousBackups",
                "dynamodb:UpdateContinuousBackups",
                "dynamodb:DescribeContributorInsights",
                "dynamodb:DescribeKinesisStreamingDestination",
                "dynamodb:GetResourcePolicy",
                "dynamodb:TagResource",
                "dynamodb:UntagResource",
                "dynamodb:ListTagsOfResource",
            ],
            arn("dynamodb", f"table/{settings.approval_table_name}"),
        ),
        iam.statement(
            [
                "secretsmanager:CreateSecret",
                "secretsmanager:DeleteSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:UpdateSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:TagResource",
                "secretsmanager:UntagResource",
            ],
            arn("secretsmanager", f"secret:{names.signing_secret_name(settings)}-*"),
        ),
        # GenerateSecretString: the password generator authorizes on no resource type.
        iam.statement(["secretsmanager:GetRandomPassword"], "*"),
        iam.statement(
            [
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:GetTopicAttributes",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "sns:Unsubscribe",
                "sns:ListSubscriptionsByTopic",
                "sns:GetDataProtectionPolicy",
                "sns:TagResource",
                "sns:UntagResource",
                "sns:ListTagsForResource",
            ],
            arn("sns", settings.notification_topic_name),
        ),
        iam.statement(
            [
                "sqs:CreateQueue",
                "sqs:DeleteQueue",
                "sqs:GetQueueAttributes",
                "sqs:SetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:TagQueue",
                "sqs:UntagQueue",
                "sqs:ListQueueTags",
            ],
            arn("sqs", names.schedule_dlq_name(settings)),
        ),
        iam.statement(
            [
                "events:PutRule",
                "events:DeleteRule",
                "events:DescribeRule",
                "events:PutTargets",
                "events:RemoveTargets",
                "events:ListTargetsByRule",
                "events:TagResource",
                "events:UntagResource",
                "events:ListTagsForResource",
            ],
            arn("events", f"rule/{settings.state_machine_name}-*"),
        ),
        iam.statement(
            [
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
                "cloudwatch:ListTagsForResource",
            ],
            [
                arn("cloudwatch", f"alarm:{name}")
                for name in (
                    *names.rollback_alarm_names(settings),
                    names.drift_alarm_name(settings),
                )
            ],
        ),
        iam.statement(
            [
                "scheduler:CreateSchedule",
                "scheduler:UpdateSchedule",
                "scheduler:DeleteSchedule",
                "scheduler:GetSchedule",
            ],
            arn("scheduler", f"schedule/default/{names.schedule_name(settings)}"),
        ),
    ]
