"""DynamoDB adapter for the Store port: the store, and the table's item layout apart from it."""

from bbq.adapters.dynamodb.store import DynamoStore

__all__ = ["DynamoStore"]
