"""The local pipeline executor: runs the SageMaker pipeline definition JSON on this machine.

`LocalPipelineExecutor(workspace, cache_dir)` is the `executor` that `local_aws()` hands
each StartPipelineExecution to. See DESIGN.md, "The local pipeline executor".
"""

from localaws.executor.executor import LocalPipelineExecutor

__all__ = ["LocalPipelineExecutor"]
