"""``Run``: one upload, watched from Python: its status with progress and cost, a wait with a progress bar,
its results and errors as DataFrames, and a stop."""

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bbq.core.model.files import FILE_FINAL

if TYPE_CHECKING:
    from bbq.core.model.files import InputFile
    from bbq_sdk.client import Client

FINAL = frozenset(status.value for status in FILE_FINAL)
NOT_YET = "Uploaded"  # before ingest has read it (seconds)


class RunFailed(RuntimeError):
    """The upload was rejected: nothing of it ran (the message says why, and its error report has each line)."""


@dataclass(frozen=True)
class RunStatus:
    key: str
    status: str
    percent: float
    records_done: int
    records_total: int
    records_per_minute: float | None
    eta: datetime | None
    estimated_cost_usd: float | None  # the input side, at the batch price, known at ingest
    cost_usd: float | None  # what it cost, once it ended
    message: str
    file_id: str | None

    @property
    def done(self) -> bool:
        return self.status in FINAL


class Run:
    def __init__(self, client: "Client", key: str, version: str) -> None:
        self.client, self.key, self.version = client, key, version

    def __repr__(self) -> str:
        return f"Run({self.key!r}, version={self.version!r})"

    def file(self, query: Any = None, follow: bool = True) -> "InputFile | None":
        """The upload as bbq knows it; None until ingest has read it. One Skipped as a repeat of bytes that ran
        under its key already is followed (``follow``) to that earlier upload, whose results are its."""
        from bbq.core.model import naming
        from bbq_sdk.views import repeated_upload

        query = query or self.client.status_query()
        file = query.file(naming.file_id_for(self.client.info.bucket, self.key, self.version))
        earlier = repeated_upload(file, query) if file is not None and follow else None
        return earlier or file

    def view(self, with_jobs: bool = False) -> dict[str, Any] | None:
        from bbq_sdk.views import file_view, repeated_upload

        query = self.client.status_query()
        own = self.file(query, follow=False)
        file = (repeated_upload(own, query) if own else None) or own
        if file is None:
            return None
        view = file_view(file, query, datetime.now(UTC), with_jobs)
        if own is not None and own.file_id != file.file_id:
            view["message"] = f"a repeat of upload {file.version}, skipped (not run or billed again): {file.message}"
        return view

    def status(self) -> RunStatus:
        view = self.view()
        if view is None:
            return RunStatus(self.key, NOT_YET, 0.0, 0, 0, None, None, None, None, "waiting for ingest", None)
        eta = datetime.fromisoformat(view["eta"]) if view["eta"] else None
        return RunStatus(
            self.key, view["status"], view["percent"], view["done"], view["records"], view["recordsPerMinute"], eta,
            view["estimatedInputCostUsd"], view["costUsd"], view["message"], view["fileId"],
        )  # fmt: skip

    def wait(
        self,
        progress: bool = True,
        poll_seconds: float = 10.0,
        timeout_seconds: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> RunStatus:
        """Until the upload ends (a progress bar in a terminal or a notebook with ``progress``); its last status.
        Raises TimeoutError after ``timeout_seconds``, RunFailed if it was rejected."""
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        bar = _Bar(self.key) if progress else None
        try:
            while True:
                state = self.status()
                if bar:
                    bar.show(state)
                if state.done:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"{self.key} is still {state.status} ({state.percent:.0f}%)")
                sleep(poll_seconds)
        finally:
            if bar:
                bar.close()
        if state.status == "Rejected":
            raise RunFailed(f"{self.key} was rejected: {state.message}")
        return state

    def results(self) -> Any:
        """Every record of the upload as a pandas DataFrame (pyarrow-backed) in input order: line, recordId, the
        input's own columns, then the text (or embedding), parsed fields, stop reason, tokens and any error."""
        import pandas as pd

        return pd.read_parquet(io.BytesIO(self._output("results.parquet")), dtype_backend="pyarrow")

    def errors(self) -> Any:
        """The records that did not succeed (errors.jsonl) as a DataFrame."""
        import pandas as pd

        body = self._output("errors.jsonl")
        if not body.strip():
            return pd.DataFrame(columns=["line", "recordId", "errorCode", "errorMessage"])
        return pd.read_json(io.BytesIO(body), lines=True, dtype_backend="pyarrow")

    def stop(self) -> dict[str, object]:
        """Stops the upload: nothing more of it runs; what ran is kept. What the stop did, in words."""
        from bbq.adapters.bedrock_batch import BedrockBatch
        from bbq.adapters.dynamodb import DynamoStore
        from bbq.adapters.join_queue import JoinQueue
        from bbq.core.model.clock import SystemClock
        from bbq.core.scheduling.stopping import stop_file

        file = self.file(follow=False)  # a repeat that was skipped stops nothing: the earlier upload is another's
        if file is None:
            raise LookupError(f"{self.key} has not been read by bbq yet: stop it again in a few seconds")
        client = self.client
        outcome = stop_file(
            file.file_id,
            store=DynamoStore(client.client("dynamodb"), client.info.table),
            batch=BedrockBatch(client.client("bedrock")),
            clock=SystemClock(),
            joins=JoinQueue(client.client("sqs"), client.info.outputs["JoinQueueUrl"]),
        )
        from bbq_sdk.views import stop_view

        return stop_view(outcome)

    def _output(self, name: str) -> bytes:
        from bbq.core.model import naming

        file = self.file()
        if file is None or file.status.value not in FINAL:
            state = file.status.value if file else NOT_YET
            raise RuntimeError(f"{self.key} is {state}: its results come when it ends (run.wait())")
        if file.status.value in {"Rejected", "Skipped"}:  # Skipped: the earlier run it repeats is gone from the table
            raise RunFailed(f"{self.key} was {file.status.value.lower()}, so it has no results: {file.message}")
        bucket, prefix = naming.split_uri(file.output_uri)
        return self.client.client("s3").get_object(Bucket=bucket, Key=prefix + name)["Body"].read()


class _Bar:
    """rich's progress bar: it draws in terminals and in Jupyter alike."""

    def __init__(self, key: str) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[count]}"),
            TextColumn("{task.fields[state]}"), TimeRemainingColumn(),
        )  # fmt: skip
        self._task = self._progress.add_task(key.removeprefix("to-process/"), total=None, state="", count="")
        self._progress.start()

    def show(self, state: RunStatus) -> None:
        label = state.status + (f" ~${state.estimated_cost_usd:.4f} in" if state.estimated_cost_usd else "")
        total = state.records_total or None
        count = f"{state.records_done:,}/{state.records_total:,}" if total else ""
        self._progress.update(self._task, total=total, completed=state.records_done, state=label, count=count)

    def close(self) -> None:
        self._progress.stop()
