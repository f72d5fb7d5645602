"""bbq's local tooling, not shipped to Lambda: the Bedrock batch emulator, the local pipeline, the CLI."""

# Variables that could point a local run at a real account or endpoint: the demo and the tests clear them.
AWS_VARIABLES_TO_CLEAR = (
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_BEDROCK",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    "AWS_ENDPOINT_URL_SERVICE_QUOTAS",
    "AWS_SESSION_TOKEN",
)
