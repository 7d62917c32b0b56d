"""`python -m mlops`: the same command as the `mlops` console script."""

from mlops.cli import console

if __name__ == "__main__":
    console()
