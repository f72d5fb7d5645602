"""bbq's local tooling, not shipped to Lambda: the Bedrock batch emulator, the local pipeline, the CLI."""
