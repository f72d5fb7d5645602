"""Property-based: random interleavings of uploads, scheduler runs (overlapping ones too), Bedrock's transitions
and faults keep the invariants at every step, and once Bedrock behaves, everything ends with each record run once
or reported."""

import json
from collections import Counter
from dataclasses import replace

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bbq.core.model import naming
from bbq.core.model.config import SmallWork
from bbq.core.model.errors import ServiceBusy, SlotUnavailable
from bbq.core.model.files import FILE_DONE, PartStatus
from bbq.core.model.limits import FixedLimits
from bbq.core.model.record_ids import staged_record_id
from bbq.core.model.states import ACTIVE, JobStatus
from bbq.core.scheduling.stopping import stop_file
from bbq_local.fakes import MISSING
from tests.core.helpers import CONFIG, LIMITS, NOVA, World, jsonl, run

QUOTA = 2
ENDINGS = [JobStatus.COMPLETED, JobStatus.PARTIALLY_COMPLETED, JobStatus.FAILED, JobStatus.EXPIRED]
RECORD_FATES = st.sampled_from([None, None, None, None, 400, 429, 500, MISSING])


class Pipeline(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = World(
            config=replace(CONFIG, small_work=SmallWork.ON_DEMAND, max_attempts=2),
            limits=FixedLimits(replace(LIMITS, concurrent_jobs=QUOTA)),
        )
        self.uploads = 0
        self.stopped: set[str] = set()

    @rule(records=st.integers(1, 700), nova=st.booleans())
    def upload(self, records: int, nova: bool) -> None:
        self.uploads += 1
        folder = f"{NOVA}/" if nova else ""
        self.world.upload(f"to-process/{folder}f{self.uploads}.jsonl", jsonl(records))

    @rule(overlapping=st.booleans())
    def scheduler_run(self, overlapping: bool) -> None:
        run(self.world, quota=QUOTA)
        if overlapping:  # a second run over the same state: the schedule and an event at once
            run(self.world, quota=QUOTA)

    @rule(data=st.data(), status=st.sampled_from(ENDINGS))
    def bedrock_ends_a_job(self, data: st.DataObject, status: JobStatus) -> None:
        active = [arn for arn in self.world.batch.snapshots if self.world.batch.active(arn)]
        if not active:
            return
        arn = data.draw(st.sampled_from(sorted(active)))
        fates = data.draw(st.lists(RECORD_FATES, min_size=1, max_size=5))
        self.world.batch.end(arn, status, "ended", fate=lambda rid: fates[hash(rid) % len(fates)])

    @rule(data=st.data(), fault=st.sampled_from(["busy", "no room", "none"]))
    def bedrock_refuses_creates(self, data: st.DataObject, fault: str) -> None:
        self.world.batch.submit_errors.clear()
        if fault != "none":
            self.world.batch.submit_errors["s3://"] = (
                ServiceBusy("throttled") if fault == "busy" else SlotUnavailable("q")
            )

    @rule(minutes=st.integers(1, 180))
    def time_passes(self, minutes: int) -> None:
        self.world.clock.advance(minutes * 60)

    @precondition(lambda self: bool(self.world.store.files))
    @rule(data=st.data())
    def a_user_stops_a_file(self, data: st.DataObject) -> None:
        file_id = data.draw(st.sampled_from(sorted(self.world.store.files)))
        stop_file(
            file_id, store=self.world.store, batch=self.world.batch, joins=self.world.joins, clock=self.world.clock
        )
        self.world.join_asked()
        self.stopped.add(file_id)

    @invariant()
    def never_beyond_the_quota_nor_twice(self) -> None:
        batch = self.world.batch
        assert all(count <= QUOTA for count in batch.max_active.values())
        assert max(Counter(r.client_token for r in batch.submitted).values(), default=1) == 1

    @invariant()
    def each_part_in_one_place(self) -> None:
        store = self.world.store
        for part in store.parts.values():
            if part.status == PartStatus.IN_JOB:
                job = store.jobs[part.job_id or ""]
                assert part.part_id in job.part_ids and not job.settled
        in_flight = [p for job in store.jobs.values() if job.status in ACTIVE for p in job.part_ids]
        assert len(in_flight) == len(set(in_flight)), "no part in two running jobs"

    def teardown(self) -> None:
        """Bedrock behaves from now on: everything ends, each record once or reported."""
        world = self.world
        world.batch.submit_errors.clear()
        for _ in range(40):
            run(world, quota=QUOTA)
            active = [a for a in world.batch.snapshots if world.batch.active(a)]
            for arn in active:
                world.batch.end(arn, JobStatus.COMPLETED)
            world.clock.advance(3 * 3600)
            if not active and all(f.status in FILE_DONE for f in world.store.files.values()):
                break
        results: Counter[str] = Counter()
        for (_, key), body in world.objects.files.items():
            if key.endswith(".out"):
                results.update(json.loads(line)["recordId"] for line in body.splitlines() if b"modelOutput" in line)
        for file in world.store.files.values():
            assert file.status in FILE_DONE, (file.key, file.status, file.message)
            report = world.objects.json(*naming.split_uri(file.results_report_uri or ""))
            failed = {entry["bbqRecordId"] for entry in report["failedRecords"]}
            ran = {staged_record_id(file.file_id, n) for n in range(1, file.record_count + 1)}
            assert all(results[rid] <= 1 for rid in ran), "no record has two results"
            assert all(results[rid] == 0 for rid in failed)
            if file.file_id not in self.stopped:
                assert {rid for rid in ran if results[rid] == 0} == failed, "each record has a result or is reported"
            assert file.counts.succeeded == sum(results[rid] for rid in ran)


Pipeline.TestCase.settings = settings(
    max_examples=60, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_random_interleavings_keep_the_invariants = Pipeline.TestCase
