"""Running the model over a job's records: deterministic per seed and job, with the record-level faults."""

import random
import string
from typing import Any

from bedrock_emulator import models
from bedrock_emulator.api import RECORD_ERROR_STATUS
from bedrock_emulator.faults import Faults
from bedrock_emulator.job import EmulatedJob, RecordResult


def run_records(job: EmulatedJob, faults: Faults, seed: int) -> list[RecordResult]:
    """Runs the model over every record (deterministically); results are revealed as time passes."""
    invocation_type = job.request.get("modelInvocationType", models.INVOKE_MODEL)
    rng = random.Random(f"{seed}:{job.job_id}")
    results = []
    for index, input_file in enumerate(job.files):
        for record in input_file.records:
            if rng.random() < faults.missing_record_rate:
                results.append(RecordResult(index, None))
                continue
            line: dict[str, Any] = {
                "recordId": record.get("recordId") or _record_id(rng),
                "modelInput": record["modelInput"],
            }
            if injected := _injected_error(faults, rng.random()):
                line["error"] = {
                    "errorCode": RECORD_ERROR_STATUS[injected],
                    "errorMessage": f"{injected} (injected fault)",
                }
                results.append(RecordResult(index, line))
                continue
            try:
                result = models.invoke(job.model_id, invocation_type, record["modelInput"])
            except models.RecordError as exc:
                line["error"] = {"errorCode": 400, "errorMessage": str(exc)}
                results.append(RecordResult(index, line))
            else:
                line["modelOutput"] = result.output
                results.append(RecordResult(index, line, result.input_tokens, result.output_tokens))
    return results


def _injected_error(faults: Faults, draw: float) -> str | None:
    """The error a record meets, if any: one draw against the knobs' probabilities, stacked in name order."""
    for name, rate in sorted(faults.record_errors.items()):
        if draw < rate:
            return name
        draw -= rate
    return None


def _record_id(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(11))
