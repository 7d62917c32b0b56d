"""The `mlops` command line, settings and the local run."""
