"""Deploying the project to AWS: the CloudFormation templates, the Lambda bundle, the stack.

Everything here is generated from Python and the one settings object, so the templates, the
CLI and the tests agree on every name. See the README's "On AWS" section.
"""
