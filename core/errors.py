"""Errors a person reads, and the exit codes the CLI turns them into."""

#: Exit codes: 0 success, 1 the job ran and failed (or AWS refused, or the environment did:
#: a full disk, a closed stdout), 2 bad input before anything ran.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: Ctrl-C, and SIGTERM, which ends a command the same way: the shell's 128 + SIGINT (2).
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Input rejected before anything ran (exit 2): the message names what and why."""


class DeployError(RuntimeError):
    """AWS refused or a deployment failed (exit 1); the message names what and the reasons."""
