"""Human approval of a registered model package, asked for by a Step Functions callback task.

`approval.handler.lambda_handler` is the single Lambda entry point; see approval/README.md.
The package imports only the standard library and (lazily) boto3, so it zips small and
cold-starts fast.
"""
