"""`mlops`: the project's one front door.

Exit codes: 0 success, 1 the job ran and failed, 2 a usage or input error before anything ran.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import gc
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from core.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    DeployError,
    UsageError,
)
from core.files import write_atomic
from core.settings import DEFAULT_DATA, Settings
from mlops.history import RUNS_DIR
from mlops.run import APPROVE_MODES

if TYPE_CHECKING:
    from mlops.aws_commands import Account
    from mlops.inputs import Input
    from mlops.user_pipeline import UserRequest


def cmd_definition(args: argparse.Namespace, settings: Settings) -> int:
    """Print (or write) the pipeline definition JSON."""
    from clients.session import local_account
    from mlops.builds import build_definition

    with local_account(settings.region) as target:
        settings = dataclasses.replace(settings, region=target.region)
        definition = build_definition(settings, target)
    _emit(definition, args.out)
    return EXIT_OK


def cmd_workflow(args: argparse.Namespace, settings: Settings) -> int:
    """Print (or write) the state machine's ASL, with `${Placeholder}`s for deployment."""
    from mlops.builds import build_asl

    _emit(build_asl(settings), args.out)
    return EXIT_OK


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the pipeline (and, without --pipeline-only, the whole workflow) locally."""
    from mlops.params import parse_params
    from mlops.run import (
        RunRequest,
        check_approval_timeout,
        check_data,
        check_runs_dir,
        new_run_id,
        run,
    )

    # Everything a person typed is checked here, before a folder or the local AWS exists.
    check_approval_timeout(args.approval_timeout)
    user: UserRequest | None = None
    inputs: tuple[Input, ...] = ()
    if args.module_name is None:
        for flag, value in (("--kwargs", args.kwargs), ("--input", args.input)):
            if value:
                raise UsageError(f"{flag}: only with --module-name")
        parse_params(args.param)
    else:
        user, inputs = _user_pipeline(args)
    request = RunRequest(
        data=check_data(args.data or DEFAULT_DATA),
        params=args.param,
        runs_dir=check_runs_dir(args.runs_dir),
        run_id=new_run_id(),
        pipeline_only=args.pipeline_only,
        approve=args.approve,
        approval_timeout=args.approval_timeout,
        user=user,
        inputs=inputs,
    )
    return run(request, settings)


def _user_pipeline(args: argparse.Namespace) -> tuple[UserRequest, tuple[Input, ...]]:
    """--module-name, --kwargs and --input, checked; the pipeline's own checks come later."""
    from mlops.inputs import parse_inputs
    from mlops.user_pipeline import UserRequest, parse_kwargs, parse_module

    if args.data is not None:
        raise UsageError(
            "--data: the project's pipeline's input; give a --module-name pipeline its data "
            "with --input NAME=PATH"
        )
    for pair in args.param:  # their names and values are checked against the pipeline's
        name, sep, _ = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--param {pair!r}: expected Name=Value")
    module, function = parse_module(args.module_name)
    user = UserRequest(module, function, parse_kwargs(args.kwargs), Path.cwd())
    return user, tuple(parse_inputs(args.input))


def cmd_template(args: argparse.Namespace, settings: Settings) -> int:
    """Print (or write) the CloudFormation template of the workflow stack, or with --ci the CI's."""
    from mlops.aws_commands import render_template

    _emit(render_template(settings, ci=args.ci), args.out)
    return EXIT_OK


def cmd_upsert(args: argparse.Namespace, settings: Settings) -> int:
    """Create or update the SageMaker pipeline (what CodeBuild runs on every push)."""
    from mlops.aws_commands import upsert

    return _deploy_errors(args, lambda: upsert(settings, args.role_arn, _account(args), sys.stdout))


def cmd_deploy(args: argparse.Namespace, settings: Settings) -> int:
    """Zip and upload the approval function, then create or update the workflow stack."""
    from mlops.aws_commands import default_stack_name, deploy

    return _deploy_errors(
        args,
        lambda: deploy(
            settings,
            args.stack_name or default_stack_name(settings),
            args.role_arn,
            args.deploy_role_arn,
            args.parameter,
            _account(args),
            sys.stdout,
        ),
    )


def cmd_start(args: argparse.Namespace, settings: Settings) -> int:
    """Start the deployed workflow; --follow prints its states until it ends."""
    from mlops.aws_commands import default_stack_name, start
    from mlops.run import MAX_APPROVAL_TIMEOUT

    # The workflow's Wait states take PollSeconds: a positive integer, and no wait outlasts
    # the execution's one year (see MAX_APPROVAL_TIMEOUT).
    if args.poll_seconds is not None and not 1 <= args.poll_seconds <= MAX_APPROVAL_TIMEOUT:
        raise UsageError(
            f"--poll-seconds {args.poll_seconds}: expected whole seconds from 1 to "
            f"{MAX_APPROVAL_TIMEOUT}"
        )
    return _deploy_errors(
        args,
        lambda: start(
            settings,
            args.stack_name or default_stack_name(settings),
            args.state_machine_arn,
            args.param,
            args.follow,
            _account(args),
            sys.stdout,
            args.poll_seconds,
        ),
    )


def cmd_predict(args: argparse.Namespace, settings: Settings) -> int:
    """Print one prediction per line for the rows of --data, by the model a run deployed or
    by an endpoint."""
    from mlops import predict

    if args.endpoint:
        if args.run:
            raise UsageError("--endpoint and --run: give one (an endpoint, or a run's model)")
        return predict.main_endpoint(args.endpoint, args.data, args.profile, args.region)
    if args.profile or args.region:
        raise UsageError("--profile and --region choose the account of --endpoint; give one")
    return predict.main(args.run, args.data, args.runs_dir)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve a run's model over the SageMaker container contract on 127.0.0.1."""
    from mlops import predict, serve

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: expected a port from 0 to 65535")
    return serve.main(predict.run_model(args.run, args.runs_dir), args.port)


def _deploy_errors(args: argparse.Namespace, run: Callable[[], int]) -> int:
    """AWS refused or a deployment failed: one line on stderr, exit 1."""
    try:
        return run()
    except DeployError as exc:
        print(f"mlops {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        write_atomic(out, text + "\n")
        print(f"wrote {out}", file=sys.stderr)


def _account(args: argparse.Namespace) -> Account:
    from mlops.aws_commands import Account

    if args.local and (args.profile or args.region):
        raise UsageError("--local: the embedded local AWS takes no --profile or --region")
    return Account(local=args.local, profile=args.profile, region=args.region)


def _add_account_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile", help="AWS profile from ~/.aws/config (default: $AWS_PROFILE, else default)"
    )
    parser.add_argument(
        "--region", help="AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, the profile's)"
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="act on the embedded local AWS instead of an AWS account (nothing persists)",
    )


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line, as every other error of the CLI (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mlops",
        description=(
            "SageMaker Pipelines driven by AWS Step Functions. `run` and `definition` work "
            "offline against an embedded local AWS; `upsert`, `deploy` and `start` act on the "
            "AWS account boto3's credential chain finds (environment, ~/.aws, SSO, roles), "
            "or on the embedded local AWS with --local."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    definition = sub.add_parser("definition", help="print the SageMaker pipeline definition JSON")
    definition.add_argument("--out", type=Path, help="write to FILE instead of stdout")
    definition.add_argument(
        "--local", action="store_true", help="build against the embedded local AWS (the default)"
    )
    definition.set_defaults(func=cmd_definition)

    workflow = sub.add_parser(
        "workflow",
        help="print the Step Functions state machine (ASL JSON)",
        description="Print the ASL; ${Name} placeholders are filled by CloudFormation's "
        "DefinitionSubstitutions (see `mlops template`).",
    )
    workflow.add_argument("--out", type=Path, help="write to FILE instead of stdout")
    workflow.set_defaults(func=cmd_workflow)

    run = sub.add_parser(
        "run",
        help="run the whole job on this machine against the embedded local AWS",
        description="Run the job locally, offline, in seconds; writes runs/<run-id>/. "
        "With --module-name, run your own SageMaker pipeline instead of the project's.",
    )
    run.add_argument(
        "--data", type=Path, help="raw CSV of the project's pipeline (default: bundled Abalone)"
    )
    run.add_argument(
        "--module-name",
        metavar="MODULE[:FUNCTION]",
        help="run your own pipeline: import MODULE from the current folder and call "
        "FUNCTION (default get_pipeline), which returns a sagemaker Pipeline, as the "
        "SageMaker Projects seed code's run-pipeline does",
    )
    run.add_argument(
        "--kwargs",
        metavar="JSON",
        help="keyword arguments of FUNCTION, a JSON object; region, role and default_bucket "
        "are filled from the local AWS where FUNCTION takes them and this does not give them",
    )
    run.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="upload a local file or folder to the local S3 and set pipeline parameter NAME "
        "to its S3 URI (repeatable; with --module-name)",
    )
    run.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a pipeline parameter (repeatable), e.g. --param MseThreshold=5.5",
    )
    _runs_dir_option(run)
    run.add_argument(
        "--pipeline-only", action="store_true", help="run the SageMaker pipeline alone"
    )
    run.add_argument(
        "--approve",
        choices=APPROVE_MODES,
        default="wait",
        help="wait: serve the review page until someone decides (default); auto or reject: "
        "decide through the same page at once",
    )
    run.add_argument(
        "--approval-timeout",
        type=int,
        default=3600,
        metavar="SECONDS",
        help="how long the approval may take before the model counts as rejected (default 3600)",
    )
    run.set_defaults(func=cmd_run)

    live = sub.add_parser(
        "up",
        help="the whole stack live on this machine, as an AWS account, until Ctrl-C",
        description="Start the local AWS, deploy the workflow stack, upload the data (which "
        "starts the first run through the stack's new-data rule), serve the review page and "
        "the endpoint, and run the endpoint's monitoring every --monitor-every seconds. "
        "Prints the AWS_* values any AWS client needs, then Ready., then one line per event.",
    )
    live.add_argument(
        "--approve",
        choices=APPROVE_MODES,
        default="wait",
        help="wait: every run waits for a decision on its review page (default); auto or "
        "reject: decide each through the same page at once",
    )
    live.add_argument(
        "--monitor-every",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="run the endpoint's data-quality monitoring this often (default 60; hourly on AWS)",
    )
    live.add_argument(
        "--data", type=Path, help="raw CSV uploaded to start the first run (default: bundled)"
    )
    _runs_dir_option(live)
    live.set_defaults(func=cmd_up)

    template = sub.add_parser(
        "template", help="print the CloudFormation template of the workflow stack (or the CI's)"
    )
    template.add_argument("--out", type=Path, help="write to FILE instead of stdout")
    template.add_argument(
        "--ci", action="store_true", help="the CI stack (CodeBuild) instead of the workflow's"
    )
    template.set_defaults(func=cmd_template)

    upsert = sub.add_parser(
        "upsert",
        help="create or update the SageMaker pipeline on AWS",
        description="Build the pipeline definition and create or update the pipeline; "
        "prints created, updated or unchanged.",
    )
    upsert.add_argument(
        "--role-arn",
        help="SageMaker execution role (default: $SAGEMAKER_ROLE_ARN, then $MLOPS_ROLE_ARN)",
    )
    _add_account_flags(upsert)
    upsert.set_defaults(func=cmd_upsert)

    deploy = sub.add_parser(
        "deploy",
        help="deploy the workflow stack (state machine, approval function, schedule)",
        description="Upload the approval function's zip and create or update the stack "
        "through a change set; an unchanged stack is success.",
    )
    deploy.add_argument(
        "--stack-name", help="CloudFormation stack (default: $STACK_NAME, then <project>-mlops)"
    )
    deploy.add_argument(
        "--role-arn",
        help="SageMaker execution role (default: $SAGEMAKER_ROLE_ARN, then $MLOPS_ROLE_ARN)",
    )
    deploy.add_argument(
        "--deploy-role-arn",
        help="role CloudFormation deploys with (default: $DEPLOY_ROLE_ARN, else your own)",
    )
    deploy.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template parameter (repeatable), e.g. --parameter 'ScheduleExpression=rate(1 day)'",
    )
    _add_account_flags(deploy)
    deploy.set_defaults(func=cmd_deploy)

    start = sub.add_parser(
        "start",
        help="start an execution of the deployed workflow",
        description="Start the state machine of the deployed stack with a unique name.",
    )
    start.add_argument(
        "--stack-name",
        help="stack whose StateMachineArn output to use (default: as for deploy)",
    )
    start.add_argument("--state-machine-arn", help="start this state machine instead")
    start.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a pipeline parameter (repeatable), e.g. --param MseThreshold=5.5",
    )
    start.add_argument(
        "--follow", action="store_true", help="print state transitions until the execution ends"
    )
    start.add_argument(
        "--poll-seconds",
        type=int,
        metavar="N",
        help="how often the workflow checks the pipeline (default: the workflow's, 60)",
    )
    _add_account_flags(start)
    start.set_defaults(func=cmd_start)
    _add_serving_commands(sub)
    _add_history_commands(sub)
    return parser


def _runs_dir_option(parser: argparse.ArgumentParser) -> None:
    """--runs-dir: where runs are written and read back."""
    parser.add_argument("--runs-dir", type=Path, default=RUNS_DIR, help=f"default: ./{RUNS_DIR}")


def _add_history_commands(sub: argparse._SubParsersAction) -> None:
    """`runs` and `show`: past runs, read from their folders."""
    runs = sub.add_parser(
        "runs",
        help="list past runs: id, start, status, decision, metric, duration",
        description="One line per run folder in --runs-dir, oldest first.",
    )
    _runs_dir_option(runs)
    runs.set_defaults(func=cmd_runs)

    show = sub.add_parser(
        "show",
        help="print one past run",
        description="What one run did, decided and deployed; RUN is its id, a unique prefix "
        "of it, or its folder.",
    )
    show.add_argument("run", metavar="RUN")
    show.add_argument(
        "--open",
        action="store_true",
        help="open the run's report.html in a browser (BROWSER chooses one)",
    )
    _runs_dir_option(show)
    show.set_defaults(func=cmd_show)


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    """The whole stack live on this machine until Ctrl-C."""
    from mlops.run import check_data, check_runs_dir
    from mlops.up import UpRequest, check_monitor_every, up

    request = UpRequest(
        approve=args.approve,
        monitor_every=check_monitor_every(args.monitor_every),
        data=check_data(args.data or DEFAULT_DATA),
        runs_dir=check_runs_dir(args.runs_dir),
    )
    return up(request, settings)


def cmd_runs(args: argparse.Namespace, settings: Settings) -> int:
    """List the past runs in --runs-dir."""
    from mlops import history

    return history.print_runs(args.runs_dir, sys.stdout)


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    """Print one past run."""
    from mlops import history

    run = history.find_run(args.runs_dir, args.run)
    code = history.print_run(run, sys.stdout)
    if args.open:
        from mlops.report import open_report

        print(f"Opened: {open_report(run.folder)}", flush=True)
    return code


def _add_serving_commands(sub: argparse._SubParsersAction) -> None:
    """`predict` and `serve`: a run's deployed model, answering on this machine."""
    predict = sub.add_parser(
        "predict",
        help="print the predictions of the model a run deployed, or of an endpoint, one per line",
        description="Serve the run's model as its endpoint does (or ask the endpoint --endpoint "
        "in the account the AWS environment names) and print its answer for every row of FILE: "
        "feature rows (no header), or raw rows with the training data's header (the target "
        "column, if present, is ignored).",
    )
    predict.add_argument("--data", type=Path, required=True, metavar="FILE", help="CSV rows")
    predict.add_argument(
        "--run", type=Path, metavar="RUN_DIR", help="a run folder (default: the latest run)"
    )
    predict.add_argument(
        "--endpoint",
        metavar="NAME",
        help="a SageMaker endpoint (InvokeEndpoint through the standard AWS environment: "
        "credentials, AWS_REGION, AWS_ENDPOINT_URL)",
    )
    predict.add_argument("--profile", help="AWS profile for --endpoint (default: $AWS_PROFILE)")
    predict.add_argument("--region", help="AWS region for --endpoint (default: $AWS_REGION)")
    _runs_dir_option(predict)
    predict.set_defaults(func=cmd_predict)

    serve = sub.add_parser(
        "serve",
        help="serve a run's model on 127.0.0.1 as its SageMaker container does",
        description="GET /ping and POST /invocations (Content-Type, Accept) on 127.0.0.1, "
        "until Ctrl-C.",
    )
    serve.add_argument(
        "--run", type=Path, metavar="RUN_DIR", help="a run folder (default: the latest run)"
    )
    _runs_dir_option(serve)
    serve.add_argument(
        "--port", type=int, default=8080, metavar="N", help="default 8080, the container's"
    )
    serve.set_defaults(func=cmd_serve)


#: What the environment did to a command (a full disk, a read-only or forbidden path), as
#: opposed to a bug: one line and exit 1, no traceback.
_ENVIRONMENT_ERRORS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.EIO,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace, Settings], int] = args.func
    with _sigterm_as_interrupt():
        try:
            settings = Settings.from_env()
            code = func(args, settings)
            sys.stdout.flush()  # a closed pipe raises here, not in the flush at exit
            return code
        except UsageError as exc:
            _error(args, str(exc))
            return EXIT_USAGE
        except ValueError as exc:  # settings from the environment
            _error(args, str(exc))
            return EXIT_USAGE
        except KeyboardInterrupt:
            _error(args, "interrupted", prefix="")
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            return _stdout_closed(args)
        except OSError as exc:
            if exc.errno not in _ENVIRONMENT_ERRORS:
                raise
            where = f": {exc.filename}" if exc.filename else ""
            _error(args, f"{exc.strerror or exc}{where}")
            return EXIT_FAILED


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (`kill`, a CI timeout, a container stop) ends a command as Ctrl-C does.

    Python turns only SIGINT into KeyboardInterrupt; the default SIGTERM kills the process
    before any cleanup, leaving the run's staging folders and the local AWS's work behind.
    Signal handlers can only be set in the main thread; elsewhere SIGTERM stays as it was.
    """
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled wherever Ctrl-C is (every `except KeyboardInterrupt` catches it).

    A subclass, not KeyboardInterrupt itself: CPython marks the process as killed by SIGINT
    (exit status -2, whatever the handler returns) when a KeyboardInterrupt passes through
    code run from a string (dataclasses and namedtuples build their methods that way, so any
    import can be in the middle of it); it checks for exactly KeyboardInterrupt.
    """


def _terminate(_signum: int, _frame: object) -> None:
    raise Terminated()


def _stdout_closed(args: argparse.Namespace) -> int:
    """The reader of stdout went away (`mlops run | head -1`): one line, exit 1.

    As the Python docs' "Note on SIGPIPE" recommends, stdout is pointed at devnull so that
    the flush at exit does not raise BrokenPipeError a second time.
    """
    # No real file descriptor behind sys.stdout (as under pytest's capture): nothing to do.
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    _error(args, "stdout was closed before all output was written")
    return EXIT_FAILED


def _error(args: argparse.Namespace, message: str, prefix: str = "error: ") -> None:
    """One line on stderr; nothing at all if stderr is gone too."""
    with contextlib.suppress(OSError, ValueError):
        print(f"mlops {args.command}: {prefix}{message}", file=sys.stderr, flush=True)


def console() -> NoReturn:
    """The `mlops` command: main() without needless garbage collection.

    Frozen objects are left out of garbage collections. The modules imported by now live
    until the process ends, so they are frozen first: collections during a run then skip
    them. At the end a run leaves some 170,000 objects (moto, botocore, the executor) that the
    interpreter's teardown would walk in full collections, half a second spent on a process
    that is ending; they are frozen too. Everything else about exiting (atexit handlers,
    flushing, refcount cleanup) is unchanged.
    """
    gc.freeze()
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    console()
