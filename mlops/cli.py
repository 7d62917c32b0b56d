"""`mlops`: the project's one front door.

Exit codes: 0 success, 1 the job ran and failed, 2 a usage or input error before anything ran.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mlops.aws import connect
from mlops.files import write_atomic
from mlops.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Input rejected before anything ran; the message is the one line the user sees."""


def cmd_definition(args: argparse.Namespace, settings: Settings) -> int:
    """Print (or write) the pipeline definition JSON."""
    from mlops.definition import build_definition

    with connect(settings.region, local=args.local) as target:
        settings = dataclasses.replace(settings, region=target.region)
        definition = build_definition(settings, target)
    _emit(definition, args.out)
    return EXIT_OK


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        write_atomic(out, text + "\n")
        print(f"wrote {out}", file=sys.stderr)


def _add_target_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--local",
        action="store_true",
        default=None,
        help="use the embedded local AWS even when AWS is configured",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops",
        description=(
            "SageMaker Pipelines driven by AWS Step Functions. Commands that talk to AWS use "
            "the standard AWS environment (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL); with "
            "none set they use an embedded local AWS, offline."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    definition = sub.add_parser("definition", help="print the SageMaker pipeline definition JSON")
    definition.add_argument("--out", type=Path, help="write to FILE instead of stdout")
    _add_target_flag(definition)
    definition.set_defaults(func=cmd_definition)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace, Settings], int] = args.func
    try:
        settings = Settings.from_env()
        return func(args, settings)
    except UsageError as exc:
        print(f"mlops {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:  # settings from the environment
        print(f"mlops {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"mlops {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
