"""A notebook's session against `bbq local up`, run as its own process (by tests/pipeline/test_local_stack.py and
by `make package-check` from a clean virtual environment): a DataFrame and a template in, a DataFrame out whose
rows match the input's, with progress shown while it runs."""

import sys

import pandas as pd
from bbq_sdk import Client

ROWS = 120
client = Client.local()
tickets = pd.DataFrame(
    {
        "ticket": [f"T{i:04d}" for i in range(ROWS)],
        "customer": [f"customer {i}" for i in range(ROWS)],
        "text": [f"The router of customer {i} blinked red. We replaced it and it works again." for i in range(ROWS)],
    }
).set_index("ticket")
template = "Summarize the ticket of {{ customer }}: {{ text }}"
run = client.submit(tickets, template=template, max_tokens=60, team="support", priority="high")
final = run.wait(progress=True, poll_seconds=1, timeout_seconds=150)
results = run.results()
assert final.status == "Completed", final
assert list(results["recordId"]) == list(tickets.index), results["recordId"]
assert list(results["customer"]) == list(tickets["customer"]), "the input's columns come back beside each output"
assert results["text"].notna().all() and (results["outputTokens"] > 0).all()
assert run.errors().empty
print(results[["recordId", "customer", "text"]].head(3).to_string(), file=sys.stderr)
queues = client.models()
assert {q["model"] for q in queues} >= set(client.info.models()) and all(q["waitingRecords"] == 0 for q in queues)
print(f"models: {', '.join(client.info.models())}; slots in use {[q['slotsInUse'] for q in queues]}")
spent = client.costs(forecast=True)
assert ("support", 1) in [(row["team"], row["files"]) for row in spent["ended"]], spent["ended"]
assert spent["total"]["costUsd"] > 0 and spent["forecast"] == [], "nothing left queued"
print(f"sdk round trip: {len(results)} rows, status {final.status}, cost ${final.cost_usd}")
