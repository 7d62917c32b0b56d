"""The local pipeline executor: runs the SageMaker pipeline definition JSON on this machine.

`LocalPipelineExecutor(workspace, cache_dir)` is the `executor` that `local_aws()` hands
each StartPipelineExecution to. The README's "The local AWS" section says what it runs.
"""

from localaws.executor.executor import LocalPipelineExecutor

__all__ = ["LocalPipelineExecutor"]
