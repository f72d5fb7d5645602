"""The ``bbq`` commands that work on a stack: status, submit, results, retry, stop, quota, cost. Each finds the
stack's bucket and table from its CloudFormation outputs (``--stack``, default ``bbq``; ``--local`` for the stack
``bbq local up`` runs) and talks to AWS with the caller's credentials."""
