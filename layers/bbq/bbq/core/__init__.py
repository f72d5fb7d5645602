"""Plain-Python domain logic of bbq. Nothing here imports boto3 or reads the environment."""
