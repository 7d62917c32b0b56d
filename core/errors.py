"""Errors a person reads, and the exit codes the CLI turns them into."""

#: Exit codes: 0 success, 1 the job ran and failed (or AWS refused), 2 bad input before
#: anything ran.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Input rejected before anything ran (exit 2): the message names what and why."""


class DeployError(RuntimeError):
    """AWS refused or a deployment failed (exit 1); the message names what and the reasons."""
