"""One thin module per AWS service: the calls the application makes, and nothing else.

Each function takes a boto3 client (real AWS or the embedded local AWS alike) and speaks the
service's own API; `clients.session` decides which AWS a command talks to.
"""
