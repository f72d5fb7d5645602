"""The only modules that talk to AWS. Each turns AWS errors into the domain exceptions of bbq.core.model.errors."""
