"""The smoke-test function: the endpoint answers as the evaluated model did, before traffic."""
