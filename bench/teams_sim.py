"""Teams, budgets and deadlines on the planning simulator (bench/planning_sim.py's simulated Bedrock, virtual time, the
real scheduler over the in-memory store): three workloads over two models, each beside its floor or baseline in the
same run. Prints one JSON line.

- Fair share: teams of weights 3, 1 and 1 with backlogs, a small team's burst arriving later, and a high-priority
  upload of one of the backlog teams at the same time. Jain's fairness
  index of each team's records in flight over its weight, sampled at every run while every team has work (1.0 is
  exact); how long the small team's burst waits for its first job, beside first-come-first-served (the same files
  in one queue); the makespan over the lower bound (all records over all slots at the pace).
- Budgets: N files of several teams over days, each team with a daily budget and the stack with one; records whose
  answers use tokens drawn around what their bytes suggest. The largest overrun of any budget line (spent over its
  limit), and the estimate's error per job (actual cost over the reservation: median, 90th percentile, worst).
- Deadlines: files with deadlines behind a backlog (and a tight variant: bigger files, sooner deadlines). The share
  of deadlines met and the cost paid above batch-only, for bbq with deadlines, bbq without (batch only) and the
  seed's design (aws-samples "bedrock-batch-with-sla": a
  file still unfinished an hour before its deadline runs what is left on demand from then on).

On-demand records take 1 / OnDemandRecordsPerMinute minutes each, one at a time per model, from the run that
claimed them.
Usage: python bench/teams_sim.py [--budget-files 1000] [--seed 7]
"""

import argparse
import heapq
import json
import logging
import math
import random
import statistics
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from planning_sim import BATCH_LIMITS, POLL, RECORDS_PER_S, T0, SimulatedBedrock

from bbq.core.model import budgets, naming
from bbq.core.model.clock import ManualClock
from bbq.core.model.config import PipelineConfig
from bbq.core.model.files import FileStatus, InputFile, InvocationType, Part
from bbq.core.model.limits import FixedLimits, SplitPolicy
from bbq.core.model.prices import DEFAULT as PRICES
from bbq.core.model.record_ids import staged_record_id
from bbq.core.model.teams import Priority, TeamPolicy, Teams
from bbq.core.scheduling.scheduler import run_scheduler
from bbq_local.fakes import FakeJoins, FakeOnDemand, InMemoryStore

HAIKU, NOVA = "anthropic.claude-3-haiku-20240307-v1:0", "amazon.nova-lite-v1:0"
QUOTAS = {HAIKU: 3, NOVA: 4}
BYTES_PER_RECORD = 1_500
GIVE_UP = timedelta(days=60)


@dataclass
class Upload:
    at: datetime
    model: str
    records: int
    team: str = "default"
    priority: Priority = Priority.NORMAL
    deadline: datetime | None = None


_NORMAL = statistics.NormalDist()


def usage_of(record_id: str) -> tuple[int, int]:
    """A record's tokens, the same whichever run asks (drawn from its id): input around a third of its bytes / 4
    (JSON's overhead is not tokens), output log-normal around 200."""
    u1 = (zlib.crc32(record_id.encode()) + 0.5) / 2**32
    u2 = (zlib.crc32(record_id.encode() + b"out") + 0.5) / 2**32
    return int(BYTES_PER_RECORD / 4 * (0.25 + 0.2 * u1)), int(math.exp(math.log(200) + 0.6 * _NORMAL.inv_cdf(u2)))


class TokenBedrock(SimulatedBedrock):
    """The simulated Bedrock whose answers carry usage (``usage_of``)."""

    def _write_output(self, job_arn: str) -> None:
        job = self.store.jobs[self.job_ids[job_arn]]
        for part in self.store.get_parts(job.part_ids):
            key = naming.split_uri(naming.results_uri(job.output_uri, job_arn, part.input_name or ""))
            if key in self.objects.files:
                continue
            lines = []
            for n in range(part.first_line, part.last_line + 1):
                record_id = staged_record_id(part.file_id, n)
                used_in, used_out = usage_of(record_id)
                usage = f'{{"input_tokens":{used_in},"output_tokens":{used_out}}}'
                lines.append(b'{"recordId":"%s","modelOutput":{"content":[],"usage":%s}}\n' % (
                    record_id.encode(), usage.encode()))  # fmt: skip
            self.objects.files[key] = b"".join(lines)


@dataclass
class Sim:
    """One run of the real scheduler over a workload, on virtual time."""

    uploads: list[Upload]
    config: PipelineConfig
    clock: ManualClock = field(default_factory=lambda: ManualClock(T0))
    store: InMemoryStore = field(default_factory=InMemoryStore)
    on_demand_done: dict[str, datetime] = field(default_factory=dict)  # part id -> when its record ended
    on_demand_free: dict[str, datetime] = field(default_factory=dict)  # model -> when its on-demand line is free

    def __post_init__(self) -> None:
        self.bedrock = TokenBedrock(self.clock, self.store, QUOTAS)
        self.limits = FixedLimits(
            BATCH_LIMITS, {m: replace(BATCH_LIMITS, concurrent_jobs=q) for m, q in QUOTAS.items()}
        )
        self.pending = sorted(self.uploads, key=lambda u: u.at)

    def run(self, on_sample: Callable[["Sim"], None] | None = None) -> None:
        arrivals = [u.at for u in self.pending]
        next_poll = T0
        while True:
            while self.pending and self.pending[0].at <= self.clock.now():
                self._add(self.pending.pop(0))
            seen = set(self.store.jobs)
            run_scheduler(
                store=self.store, batch=self.bedrock, objects=self.bedrock.objects, limits=self.limits,
                config=self.config, clock=self.clock, joins=FakeJoins(), on_demand=FakeOnDemand(),
            )  # fmt: skip
            self._time_on_demand(set(self.store.jobs) - seen)
            if on_sample:
                on_sample(self)
            if not self.pending and all(f.join_requested_at for f in self.store.files.values()):
                return
            if self.clock.now() - T0 > GIVE_UP:
                sys.exit(f"teams_sim: work still waiting after {GIVE_UP.days} simulated days")
            while self.bedrock.events and self.bedrock.events[0] <= self.clock.now():
                heapq.heappop(self.bedrock.events)
            if self.clock.now() >= next_poll:
                next_poll = self.clock.now() + POLL
            upcoming = min([next_poll, *self.bedrock.events[:1], *[a for a in arrivals if a > self.clock.now()][:1]])
            self.clock.advance((upcoming - self.clock.now()).total_seconds())

    def _add(self, upload: Upload) -> None:
        index = len(self.store.files)
        file_id = f"f{index:05d}"
        part_records = self.config.split.part_records
        if upload.deadline is not None:
            part_records = min(part_records, self.config.deadline_part_records)
        count = math.ceil(upload.records / part_records)
        now = self.clock.now()
        file = InputFile(
            file_id, "b", f"to-process/{upload.team}/{file_id}.jsonl", "v", upload.model, InvocationType.INVOKE_MODEL,
            FileStatus.QUEUED, upload.records, upload.records, 0, upload.records * BYTES_PER_RECORD, count,
            f"s3://b/processed/{file_id}/", now, now, team=upload.team, priority=upload.priority,
            deadline=upload.deadline,
        )  # fmt: skip
        parts = []
        for i in range(count):
            size = min(part_records, upload.records - i * part_records)
            parts.append(Part(
                file_id, i + 1, upload.model, InvocationType.INVOKE_MODEL, f"s3://b/staged/{file_id}/p{i + 1}.jsonl",
                count, file.output_uri, i * part_records + 1, i * part_records + size, size, size * BYTES_PER_RECORD,
                now, team=upload.team, priority=upload.priority, deadline=upload.deadline,
            ))  # fmt: skip
        if upload.deadline is not None:  # what on demand reads, should the deadline send it there
            for part in parts:
                ids = (staged_record_id(file_id, n) for n in range(part.first_line, part.last_line + 1))
                self.bedrock.objects.files[naming.split_uri(part.staged_uri)] = b"".join(
                    b'{"recordId":"%s","modelInput":{"messages":[]}}\n' % i.encode() for i in ids
                )
        self.store.create_file(file, parts)

    def _time_on_demand(self, new_jobs: set[str]) -> None:
        """Records one run sent on demand end one after another from that run, per model."""
        rate = self.config.on_demand_records_per_minute
        for job_id in sorted(new_jobs):
            job = self.store.jobs[job_id]
            if not job.on_demand:
                continue
            start = max(self.clock.now(), self.on_demand_free.get(job.model_id, T0))
            for part in self.store.get_parts(job.part_ids):
                start += timedelta(minutes=part.record_count / rate)
                self.on_demand_done[part.part_id] = start
            self.on_demand_free[job.model_id] = start

    def file_done(self, file_id: str) -> datetime:
        """When the file's last record ended: its batch jobs' ends and its on-demand records' (every attempt)."""
        ends = []
        for part in self.store.parts.values():
            if part.file_id != file_id or part.job_id is None:
                continue
            job = self.store.jobs[part.job_id]
            if job.on_demand:
                ends.append(self.on_demand_done.get(part.part_id, job.ended_at or T0))
            else:
                ends.append(self.bedrock.ends.get(job.job_arn or "", job.ended_at or T0))
        return max(ends, default=T0)

    def cost(self) -> float:
        """What every record that ran cost: its tokens (``usage_of``) at the batch price, or the on-demand price
        for a record run on demand (the joins, which price files, do not run in the simulation)."""
        total = 0.0
        for part in self.store.parts.values():
            job = self.store.jobs.get(part.job_id or "")
            if job is None:
                continue
            used_in = used_out = 0
            for n in range(part.first_line, part.last_line + 1):
                tokens = usage_of(staged_record_id(part.file_id, n))
                used_in, used_out = used_in + tokens[0], used_out + tokens[1]
            total += PRICES.cost(part.model_id, used_in, used_out, on_demand=job.on_demand) or 0.0
        return total


def config(**changes: Any) -> PipelineConfig:
    base = PipelineConfig(
        HAIKU, "arn:aws:iam::123456789012:role/r", "bbq", (NOVA,), split=SplitPolicy(part_records=5_000)
    )
    return replace(base, **changes)


# ---- fair share ---------------------------------------------------------------------------------------------


def fairness(seed: int, files: int) -> dict[str, Any]:
    """Three teams with backlogs (weights 3, 1, 1) from the start; two hours in, an on-call team's burst of two
    small files, and a high-priority file of the search team."""
    rng = random.Random(seed)
    weights = {"ads": 3.0, "search": 1.0, "support": 1.0}
    burst_at = T0 + timedelta(hours=2)
    uploads = [Upload(T0, HAIKU, rng.randint(2_000, 20_000), team) for team in weights for _ in range(files)]
    uploads += [Upload(burst_at, HAIKU, 1_000, "oncall") for _ in range(2)]
    uploads += [Upload(burst_at, HAIKU, 1_000, "search", Priority.HIGH)]  # a priority upload within a backlog team
    teams = Teams({team: TeamPolicy(weight=w) for team, w in weights.items()})
    indexes: list[float] = []

    def sample(sim: Sim) -> None:
        """Jain's index of records in flight over weight, while every backlog team has work waiting."""
        waiting = {p.team for p in sim.store.parts.values() if p.status.value == "Waiting"}
        if not set(weights) <= waiting:
            return
        flight: dict[str, float] = {}
        for job in sim.store.jobs.values():
            if job.status.value in {"Submitted", "Validating", "Scheduled", "InProgress"}:
                for team, records in job.team_records.items():
                    flight[team] = flight.get(team, 0.0) + records
        shares = [flight.get(team, 0.0) / w for team, w in weights.items()]
        if sum(shares):
            indexes.append(sum(shares) ** 2 / (len(shares) * sum(x * x for x in shares)))

    fair = Sim(uploads, config(teams=teams))
    fair.run(sample)
    fcfs = Sim([replace(u, team="default", priority=Priority.NORMAL) for u in uploads], config())
    fcfs.run()

    def burst_wait(sim: Sim, team: str = "oncall") -> float:
        """Hours from the burst's upload to the first job carrying any of it (its files uploaded then, of the team
        in ``team``'s place in the workload: FCFS runs every file in the default team)."""
        mine = {i for i, u in enumerate(sorted(uploads, key=lambda u: u.at)) if u.at == burst_at and u.team == team}
        burst = {f.file_id for f in sim.store.files.values() if int(f.file_id[1:]) in mine}
        starts = [
            j.submitted_at for j in sim.store.jobs.values()
            if j.submitted_at and any(pid.split("-p")[0] in burst for pid in j.part_ids)
        ]  # fmt: skip
        return (min(starts) - burst_at).total_seconds() / 3600 if starts else math.inf

    records = sum(u.records for u in uploads)
    bound_h = records / RECORDS_PER_S / QUOTAS[HAIKU] / 3600

    def over_bound(sim: Sim) -> float:
        return round((max(sim.bedrock.ends.values()) - T0).total_seconds() / 3600 / bound_h, 3)

    return {
        "weights": weights,
        "records": records,
        "jain_index_mean": round(statistics.fmean(indexes), 3) if indexes else None,
        "jain_index_min": round(min(indexes), 3) if indexes else None,
        "samples": len(indexes),
        "burst_first_job_wait_h": round(burst_wait(fair), 2),
        "fcfs_burst_first_job_wait_h": round(burst_wait(fcfs), 2),
        "priority_upload_first_job_wait_h": round(burst_wait(fair, "search"), 2),
        "fcfs_priority_upload_first_job_wait_h": round(burst_wait(fcfs, "search"), 2),
        "makespan_over_bound": over_bound(fair),
        "fcfs_makespan_over_bound": over_bound(fcfs),
    }


# ---- budgets ------------------------------------------------------------------------------------------------


def budget_holding(seed: int, files: int) -> dict[str, Any]:
    rng = random.Random(seed)
    team_names = ["ads", "search", "support", "research"]
    uploads = [
        Upload(T0 + timedelta(minutes=rng.uniform(0, 3 * 24 * 60)), rng.choice([HAIKU, NOVA]),
               int(math.exp(rng.uniform(math.log(200), math.log(8_000)))), rng.choice(team_names))
        for _ in range(files)
    ]  # fmt: skip
    teams = Teams(
        {"ads": TeamPolicy(2, daily_budget_usd=12.0), "search": TeamPolicy(1, daily_budget_usd=6.0),
         "support": TeamPolicy(1, daily_budget_usd=3.0), "research": TeamPolicy(1)},
        daily_budget_usd=20.0,
    )  # fmt: skip
    sim = Sim(uploads, config(teams=teams))
    sim.run()
    used = {}
    for key, spend in sim.store.budget_lines.items():
        owner, period, _ = key.split("#")
        limit = teams.daily_budget_usd if owner == budgets.STACK else teams.policy(owner).daily_budget_usd
        if period == "day" and limit:
            used[key] = spend.spent / limit
    worst_line = max(used, key=lambda k: used[k], default="")
    overrun = max(0.0, used.get(worst_line, 0.0) - 1)
    ratios = []
    for job in sim.store.jobs.values():
        if job.budget_at and job.estimated_cost_usd:
            parts = [p for p in sim.store.get_parts(job.part_ids) if p.job_id == job.job_id]
            actual = PRICES.cost(job.model_id, sum(p.input_tokens for p in parts), sum(p.output_tokens for p in parts))
            ratios.append((actual or 0) / job.estimated_cost_usd)
    ratios.sort()
    return {
        "files": files,
        "jobs_reserved": len(ratios),
        "largest_overrun_share": round(overrun, 4),
        "fullest_line": worst_line,
        "fullest_line_used": round(used.get(worst_line, 0.0), 4),
        "lines_over_90_percent": sum(1 for share in used.values() if share > 0.9),
        "actual_over_estimate_p50": round(ratios[len(ratios) // 2], 3) if ratios else None,
        "actual_over_estimate_p90": round(ratios[int(len(ratios) * 0.9)], 3) if ratios else None,
        "actual_over_estimate_max": round(ratios[-1], 3) if ratios else None,
        "actual_over_estimate_min": round(ratios[0], 3) if ratios else None,
        "reserved_left_usd": round(sum(s.reserved for s in sim.store.budget_lines.values()), 6),
        "simulated_days": round((sim.clock.now() - T0).total_seconds() / 86_400, 1),
    }


# ---- deadlines ----------------------------------------------------------------------------------------------

SEED_CUTOFF = timedelta(hours=1)


def deadline_workload(seed: int, files: int, tight: bool = False) -> list[Upload]:
    """A day of backlog on three slots, then files with deadlines: every 30 minutes, 600-2,400 records due in 2-8 h;
    or ``tight``, every 20 minutes, 1,200-4,800 records due in 1.5-3 h (the on-demand line is the bottleneck)."""
    rng = random.Random(seed)
    backlog = [Upload(T0, HAIKU, 20_000) for _ in range(6)]
    every, sizes, hours = (20, [1_200, 2_400, 4_800], [1.5, 2, 3]) if tight else (30, [600, 1_200, 2_400], [2, 4, 8])
    due = []
    for i in range(files):
        at = T0 + timedelta(minutes=every * i)
        due.append(Upload(at, HAIKU, rng.choice(sizes), deadline=at + timedelta(hours=rng.choice(hours))))
    return backlog + due


def deadlines_met(seed: int, files: int, tight: bool = False) -> dict[str, Any]:
    uploads = deadline_workload(seed, files, tight)
    rate = 120  # on-demand records a minute
    with_deadlines = Sim(uploads, config(on_demand_records_per_minute=rate))
    with_deadlines.run()
    batch_only = Sim([replace(u, deadline=None) for u in uploads], config(on_demand_records_per_minute=rate))
    batch_only.run()

    def due(sim: Sim) -> dict[str, datetime]:
        return {f.file_id: d for f in sim.store.files.values() if (d := _deadline_of(uploads, f)) is not None}

    def met(sim: Sim) -> int:
        return sum(1 for file_id, deadline in due(sim).items() if sim.file_done(file_id) <= deadline)

    total, hits, batch_hits = len(due(with_deadlines)), met(with_deadlines), met(batch_only)
    # The seed's design on batch-only's timeline: an hour before its deadline, what is left of a file runs on
    # demand from then on, one record at a time on the model's one on-demand line (as bbq's do).
    seed_hits, seed_extra, line_free = 0, 0.0, T0
    for file_id, deadline in sorted(due(batch_only).items(), key=lambda item: item[1]):
        done, cutoff = batch_only.file_done(file_id), deadline - SEED_CUTOFF
        if done > cutoff:
            line_free = max(line_free, cutoff) + timedelta(minutes=batch_only.store.files[file_id].record_count / rate)
            done = line_free
            seed_extra += _batch_cost(batch_only, file_id)  # on demand pays twice the batch price: once more
        seed_hits += done <= deadline
    base_cost = batch_only.cost()
    return {
        "files_with_deadlines": total,
        "bbq_met": round(hits / total, 3),
        "batch_only_met": round(batch_hits / total, 3),
        "seed_sla_met": round(seed_hits / total, 3),
        "bbq_extra_cost_usd": round(with_deadlines.cost() - base_cost, 4),
        "seed_sla_extra_cost_usd": round(seed_extra, 4),
        "batch_only_cost_usd": round(base_cost, 4),
        "records_on_demand": sum(j.record_count for j in with_deadlines.store.jobs.values() if j.on_demand),
    }


def _batch_cost(sim: Sim, file_id: str) -> float:
    parts = [p for p in sim.store.parts.values() if p.file_id == file_id]
    used_in, used_out = sum(p.input_tokens for p in parts), sum(p.output_tokens for p in parts)
    return PRICES.cost(HAIKU, used_in, used_out) or 0.0


def _deadline_of(uploads: list[Upload], file: InputFile) -> datetime | None:
    """The deadline the workload gave the file (batch-only runs drop it from the upload)."""
    index = int(file.file_id[1:])
    return sorted(uploads, key=lambda u: u.at)[index].deadline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fair-files", type=int, default=40, help="files per big team")
    parser.add_argument("--budget-files", type=int, default=1_000)
    parser.add_argument("--deadline-files", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # held and waiting work is the point here, not news
    print(
        json.dumps(
            {
                "bench": "teams",
                "fair_share": fairness(args.seed, args.fair_files),
                "budgets": budget_holding(args.seed, args.budget_files),
                "deadlines": deadlines_met(args.seed, args.deadline_files),
                "deadlines_tight": deadlines_met(args.seed, args.deadline_files, tight=True),
            }
        )
    )


if __name__ == "__main__":
    main()
