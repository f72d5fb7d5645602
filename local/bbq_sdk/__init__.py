"""bbq's Python SDK: a table and a prompt template in, a DataFrame out.

    from bbq_sdk import Client

    client = Client(stack="bbq")            # a deployed stack (or Client.local() for `bbq local up`)
    run = client.submit(df, model="anthropic.claude-3-haiku-20240307-v1:0", template="Summarize: {{ text }}")
    run.wait(progress=True)
    results = run.results()                 # pandas, pyarrow-backed: the input's columns beside each output

The `bbq` command is built on it.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bbq_sdk.client import Client
    from bbq_sdk.runs import Run, RunStatus

__all__ = ["Client", "Run", "RunStatus"]


def __getattr__(name: str) -> Any:  # imported on first use: `bbq --help` loads none of it
    if name == "Client":
        from bbq_sdk.client import Client

        return Client
    if name in ("Run", "RunStatus"):
        from bbq_sdk import runs

        return getattr(runs, name)
    raise AttributeError(name)
