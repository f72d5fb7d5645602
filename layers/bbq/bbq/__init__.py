"""bbq: the shared library of the Bedrock Batch Queue.

- ``bbq.core``: the rules (job states, naming, slots, validation, ingest and scheduling). No boto3.
- ``bbq.adapters``: the only modules that talk to AWS (S3, DynamoDB, Bedrock).
- ``bbq.settings`` / ``bbq.wiring`` / ``bbq.observability``: what a Lambda handler needs to call the core.
"""
