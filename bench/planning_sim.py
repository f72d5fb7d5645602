"""Planning simulator: how close bbq's planner and scheduler come to the best possible makespan, beside the seed's
design, on the same workload. Prints one JSON line per model and design.

Virtual time; the real planner and scheduler (``run_scheduler``) over the in-memory store; Bedrock as a
simulated batch service that keeps the emulator's pace (30 s Submitted, 60 s Validating, 60 s Scheduled, then 2
records a second) and refuses creates over each model's quota. Every job end is an immediate state-change event
(a scheduler run), and the schedule runs every 15 minutes. Files become parts as ingest cuts them (PartRecords);
the records themselves are not generated, which is what lets 200 files of up to 60,000 records run in seconds.

The seed's design on the same workload: one job per file, files under 100 records rejected, files over 50,000
failed, a 15-minute poll as the only trigger.

Usage: python bench/planning_sim.py [--files 200] [--seed 7]
"""

import argparse
import heapq
import json
import math
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bbq.core.model import naming
from bbq.core.model.clock import ManualClock
from bbq.core.model.config import PipelineConfig
from bbq.core.model.errors import SlotUnavailable
from bbq.core.model.files import FileStatus, InputFile, InvocationType, Part
from bbq.core.model.jobs import JobSnapshot, RecordCounts
from bbq.core.model.limits import FixedLimits, ModelLimits, SplitPolicy
from bbq.core.model.ports import SubmitRequest
from bbq.core.model.record_ids import staged_record_id
from bbq.core.model.states import JobStatus
from bbq.core.scheduling.scheduler import run_scheduler
from bbq_local.fakes import FakeJoins, FakeObjects, FakeOnDemand, InMemoryStore

MODELS = {"anthropic.claude-3-haiku-20240307-v1:0": 3, "amazon.nova-lite-v1:0": 10}
OVERHEAD_S = 30 + 60 + 60  # the emulator's Submitted, Validating and Scheduled phases
RECORDS_PER_S = 2.0
POLL = timedelta(minutes=15)
GIVE_UP = timedelta(days=60)  # the largest workload here ends in days
T0 = datetime(2026, 1, 1, tzinfo=UTC)
BATCH_LIMITS = ModelLimits(1, 100, 50_000, 50_000, 1024**3, 5 * 1024**3)


def job_seconds(records: int) -> float:
    return OVERHEAD_S + records / RECORDS_PER_S


def workload(files: int, seed: int) -> list[tuple[str, int]]:
    """(model, records) per file: log-uniform from 10 to 60,000 records, the models alternating."""
    rng = random.Random(seed)
    models = list(MODELS)
    return [(models[i % 2], int(math.exp(rng.uniform(math.log(10), math.log(60_000))))) for i in range(files)]


@dataclass
class SimulatedBedrock:
    """The BatchService port on virtual time, with the emulator's pace and a per-model quota."""

    clock: ManualClock
    store: InMemoryStore
    quotas: dict[str, int]
    ends: dict[str, datetime] = field(default_factory=dict)  # arn -> end
    models: dict[str, str] = field(default_factory=dict)  # arn -> model
    records: dict[str, int] = field(default_factory=dict)  # arn -> records
    busy: dict[str, float] = field(default_factory=dict)  # model -> slot-seconds used
    events: list[datetime] = field(default_factory=list)
    objects: FakeObjects = field(default_factory=lambda: _NoCopies())
    job_ids: dict[str, str] = field(default_factory=dict)  # arn -> bbq's job id

    def submit(self, request: SubmitRequest) -> str:
        now = self.clock.now()
        active = sum(1 for arn, end in self.ends.items() if self.models[arn] == request.model_id and end > now)
        if active >= self.quotas[request.model_id]:
            raise SlotUnavailable("quota reached")
        job_id = request.client_token.rsplit("a", 1)[0]
        records = self.store.jobs[job_id].record_count
        arn = f"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/{job_id[:12]}"
        seconds = job_seconds(records)
        self.ends[arn] = now + timedelta(seconds=seconds)
        self.models[arn] = request.model_id
        self.records[arn] = records
        self.job_ids[arn] = job_id
        self.busy[request.model_id] = self.busy.get(request.model_id, 0.0) + seconds
        heapq.heappush(self.events, self.ends[arn])
        return arn

    def describe(self, job_arn: str, job_name: str | None) -> JobSnapshot:
        """With Bedrock's progress counter: the records processed so far at the emulator's pace."""
        now, end = self.clock.now(), self.ends[job_arn]
        records = self.records[job_arn]
        if now >= end:
            self._write_output(job_arn)
            return JobSnapshot(JobStatus.COMPLETED, "", RecordCounts(records, records, records, 0), end)
        running = (now - (end - timedelta(seconds=job_seconds(records)))).total_seconds() - OVERHEAD_S
        processed = max(0, min(records, int(running * RECORDS_PER_S)))
        return JobSnapshot(JobStatus.IN_PROGRESS, "", RecordCounts(records, processed, processed, 0), None)

    def stop(self, job_arn: str) -> bool:
        raise NotImplementedError("the simulated workload never stops a job")

    def _write_output(self, job_arn: str) -> None:
        """A result line per record (with bbq's record id and nothing else): what settling the job reads."""
        job = self.store.jobs[self.job_ids[job_arn]]
        for part in self.store.get_parts(job.part_ids):
            key = naming.split_uri(naming.results_uri(job.output_uri, job_arn, part.input_name or ""))
            if key not in self.objects.files:
                ids = (staged_record_id(part.file_id, n) for n in range(part.first_line, part.last_line + 1))
                self.objects.files[key] = b"".join(b'{"recordId":"%s","modelOutput":{}}\n' % i.encode() for i in ids)


class _NoCopies(FakeObjects):
    """Copying staged parts into a packed job's folder is S3's work, outside what is simulated."""

    def copy(self, bucket: str, source_key: str, key: str) -> None:
        pass


def simulate_bbq(files: list[tuple[str, int]], part_records: int) -> dict[str, dict[str, float]]:
    clock, store = ManualClock(T0), InMemoryStore()
    for index, (model, records) in enumerate(files):
        _add_file(store, f"f{index:04d}", model, records, part_records)
    bedrock = SimulatedBedrock(clock, store, MODELS)
    limits = FixedLimits(BATCH_LIMITS, {m: BATCH_LIMITS.with_changes(concurrent_jobs=q) for m, q in MODELS.items()})
    config = PipelineConfig(next(iter(MODELS)), "arn:aws:iam::123456789012:role/r", "bbq", tuple(MODELS))
    config = PipelineConfig(**{**config.__dict__, "split": SplitPolicy(part_records=part_records)})
    next_poll = T0
    runs = 0
    while True:
        run_scheduler(
            store=store,
            batch=bedrock,
            objects=bedrock.objects,
            limits=limits,
            config=config,
            clock=clock,
            joins=FakeJoins(),  # the results joins run off the scheduler's path: planning ends when records do
            on_demand=FakeOnDemand(),
        )
        runs += 1
        if all(f.join_requested_at or f.status == FileStatus.REJECTED for f in store.files.values()):
            break
        if clock.now() - T0 > GIVE_UP:  # never loop for ever: a pipeline that stops moving is a failure
            stuck = sorted({f.status.value for f in store.files.values() if not f.join_requested_at})
            sys.exit(f"files still {stuck} after {GIVE_UP.days} simulated days and {runs} scheduler runs")
        while bedrock.events and bedrock.events[0] <= clock.now():
            heapq.heappop(bedrock.events)
        if clock.now() >= next_poll:
            next_poll = clock.now() + POLL
        upcoming = min([next_poll, *bedrock.events[:1]])
        clock.advance((upcoming - clock.now()).total_seconds())
    ended = {m: max((e for a, e in bedrock.ends.items() if bedrock.models[a] == m), default=T0) for m in MODELS}
    jobs = {m: sum(1 for j in store.jobs.values() if j.model_id == m) for m in MODELS}
    return {
        m: {
            "makespan_h": (ended[m] - T0).total_seconds() / 3600,
            "jobs": jobs[m],
            "utilisation": bedrock.busy.get(m, 0.0) / (MODELS[m] * max(1.0, (ended[m] - T0).total_seconds())),
            "records_run": sum(j.record_count for j in store.jobs.values() if j.model_id == m),
            "scheduler_runs": runs,
        }
        for m in MODELS
    }


def _add_file(store: InMemoryStore, file_id: str, model: str, records: int, part_records: int) -> None:
    count = math.ceil(records / part_records)
    file = InputFile(
        file_id, "b", f"to-process/{file_id}.jsonl", "v", model, InvocationType.INVOKE_MODEL, FileStatus.QUEUED,
        records, records, 0, records * 1500, count, f"s3://b/processed/{file_id}/", T0, T0,
    )  # fmt: skip
    parts = [
        Part(
            file_id,
            i + 1,
            model,
            InvocationType.INVOKE_MODEL,
            f"s3://b/staged/{file_id}/p{i + 1}.jsonl",
            count,
            file.output_uri,
            i * part_records + 1,
            min(records, (i + 1) * part_records),
            min(part_records, records - i * part_records),
            min(part_records, records - i * part_records) * 1500,
            T0,
        )  # fmt: skip
        for i in range(count)
    ]
    store.create_file(file, parts)


def simulate_seed(files: list[tuple[str, int]]) -> dict[str, dict[str, float]]:
    """One job per file, oldest first, small files rejected, big ones failed, a slot refilled only on a poll."""
    results = {}
    for model, quota in MODELS.items():
        queue = [r for m, r in files if m == model and 100 <= r <= 50_000]
        running: list[float] = []  # end times
        now, busy = 0.0, 0.0
        while queue or running:
            running = [end for end in running if end > now]
            while queue and len(running) < quota:
                seconds = job_seconds(queue.pop(0))
                running.append(now + seconds)
                busy += seconds
            if queue or running:
                now += POLL.total_seconds()
        makespan = max(running, default=now) if running else now
        total = sum(r for m, r in files if m == model)
        ran = sum(r for m, r in files if m == model and 100 <= r <= 50_000)
        results[model] = {
            "makespan_h": makespan / 3600,
            "jobs": len([r for m, r in files if m == model and 100 <= r <= 50_000]),
            "utilisation": busy / (quota * makespan) if makespan else 0.0,
            "records_run": ran,
            "records_not_run": total - ran,
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--part-records", type=int, default=5_000)
    args = parser.parse_args()
    files = workload(args.files, args.seed)
    bbq, seed = simulate_bbq(files, args.part_records), simulate_seed(files)
    rows = []
    for model, quota in MODELS.items():
        records = sum(r for m, r in files if m == model)
        bound_h = records / RECORDS_PER_S / quota / 3600
        row = {
            "model": model,
            "quota": quota,
            "files": sum(1 for m, _ in files if m == model),
            "records": records,
            "lower_bound_h": round(bound_h, 2),
            "bbq_makespan_h": round(bbq[model]["makespan_h"], 2),
            "bbq_over_bound": round(bbq[model]["makespan_h"] / bound_h, 3),
            "bbq_jobs": bbq[model]["jobs"],
            "bbq_utilisation": round(bbq[model]["utilisation"], 3),
            "bbq_records_run": bbq[model]["records_run"],
            "seed_makespan_h": round(seed[model]["makespan_h"], 2),
            "seed_over_bound": round(seed[model]["makespan_h"] / bound_h, 3),
            "seed_jobs": seed[model]["jobs"],
            "seed_records_not_run": seed[model]["records_not_run"],
        }
        rows.append(row)
    print(json.dumps({"bench": "planning", "models": rows}))


if __name__ == "__main__":
    main()
