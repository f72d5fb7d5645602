"""Ingest: a good file becomes one Pending job, a bad one an Invalid job with a report; never two jobs."""

from bbq.core import naming
from bbq.core.clock import ManualClock
from bbq.core.config import PipelineConfig
from bbq.core.ingest import ingest_object
from bbq.core.ports import ObjectRef
from bbq.core.states import JobStatus
from tests.conftest import CLAUDE, ROLE_ARN, claude_record, jsonl
from tests.core.fakes import FakeObjects, InMemoryJobs

CONFIG = PipelineConfig(default_model_id=CLAUDE, role_arn=ROLE_ARN, job_name_prefix="bbq-test")


def ingest(objects: FakeObjects, store: InMemoryJobs, key: str, version: str = "etag-1"):
    ref = ObjectRef("bucket", key, version, 0)
    return ingest_object(ref, objects=objects, store=store, config=CONFIG, clock=ManualClock())


def test_a_good_file_is_queued_pending() -> None:
    objects = FakeObjects({("bucket", "to-process/a b.jsonl"): jsonl([claude_record(i) for i in range(150)])})
    store = InMemoryJobs()
    outcome = ingest(objects, store, "to-process/a b.jsonl")
    assert outcome.created and outcome.status == JobStatus.PENDING
    job = store.items[outcome.job_id]
    assert (job.record_count, job.model_id, job.message) == (150, CLAUDE, "")
    assert job.input_uri == f"s3://bucket/{naming.staged_key(job.job_id, 'to-process/a b.jsonl')}", "a frozen copy"
    assert job.input_uri.startswith(f"s3://bucket/staged/{job.job_id}/a-b-"), "named after the upload, safely"
    staged = job.input_uri.removeprefix("s3://bucket/")
    assert objects.files["bucket", staged] == objects.files["bucket", "to-process/a b.jsonl"]
    assert job.output_uri == "s3://bucket/processed/a-b-c8687a08aa/", "a safe name, tagged by the key's hash"
    assert job.source_keys == ("to-process/a b.jsonl",)
    assert objects.reports == {}


def test_a_bad_file_is_invalid_with_a_report_next_to_it() -> None:
    objects = FakeObjects({("bucket", "to-process/small.jsonl"): jsonl([claude_record(i) for i in range(3)])})
    store = InMemoryJobs()
    outcome = ingest(objects, store, "to-process/small.jsonl")
    assert outcome.created and outcome.status == JobStatus.INVALID
    job = store.items[outcome.job_id]
    assert job.message == "Input rejected: 3 records; Bedrock batch needs at least 100 per job"
    assert job.ended_at is not None
    report = objects.reports["bucket", "to-process/small.jsonl.error.json"]
    assert store.items[outcome.job_id].report_uri == "s3://bucket/to-process/small.jsonl.error.json"
    assert report["problems"] == ["3 records; Bedrock batch needs at least 100 per job"]
    assert "upload the corrected file" in str(report["whatToDo"])
    assert ("bucket", "to-process/small.jsonl") in objects.files, "the original file is kept"
    assert not any(key.startswith("staged/") for _, key in objects.files), "nothing is staged for Bedrock"


def test_duplicate_events_create_nothing_and_new_versions_are_new_jobs() -> None:
    objects = FakeObjects({("bucket", "to-process/a.jsonl"): jsonl([claude_record(i) for i in range(100)])})
    store = InMemoryJobs()
    first = ingest(objects, store, "to-process/a.jsonl")
    again = ingest(objects, store, "to-process/a.jsonl")
    assert (again.created, again.job_id, again.reason) == (False, first.job_id, "duplicate event")
    overwrite = ingest(objects, store, "to-process/a.jsonl", version="etag-2")
    assert overwrite.created and overwrite.job_id != first.job_id
    assert len(store.items) == 2


def test_keys_outside_the_input_prefix_and_vanished_objects_are_skipped() -> None:
    store = InMemoryJobs()
    assert ingest(FakeObjects(), store, "to-process/a.jsonl.error.json").job_id is None
    assert ingest(FakeObjects(), store, "elsewhere/a.jsonl").job_id is None
    gone = ingest(FakeObjects(), store, "to-process/gone.jsonl")
    assert (gone.created, gone.reason) == (False, "object no longer exists")
    assert store.items == {}
