"""The deployment's settings, read from the function's environment once per invocation and validated.

Each setting is declared once (its variable, default and rule); every broken rule is reported together, naming
the variable. Plain dataclasses rather than pydantic: pydantic's import and model building were a fifth of each
function's cold start (bench/cold_start_bench.py), for thirty fields."""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from enum import Enum
from typing import Any

from bbq.core.model.config import PipelineConfig, RejectedLines, SmallWork
from bbq.core.model.limits import ModelLimits, SplitPolicy
from bbq.core.model.prices import PriceTable
from bbq.core.model.teams import Teams, parse_budget, parse_teams

_REQUIRED = object()


class SettingsError(ValueError):
    """Variables missing or out of their rules, every one of them named."""


def _setting(env: str, default: Any = _REQUIRED, **rule: Any) -> Any:
    return field(default=None, metadata={"env": env, "default": default, **rule})


@dataclass(frozen=True)
class Settings:
    jobs_table: str = _setting("JOBS_TABLE", min_length=3)
    model_id: str = _setting("MODEL_ID", min_length=1)
    # Comma-separated models and inference profiles uploads may name (the default model is always allowed).
    allowed_models: str = _setting("ALLOWED_MODELS", "")
    batch_role_arn: str = _setting("BATCH_ROLE_ARN", pattern=r"^arn:aws[a-z\-]*:iam::\d{12}:role/.+")
    # At most 40 characters: a job name is <prefix>-<20 hex of the JobId>-a<attempt>, within Bedrock's 63.
    job_name_prefix: str = _setting("JOB_NAME_PREFIX", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9\-]{0,39}$")
    stack_name: str = _setting("STACK_NAME", "bbq")
    # The results function's queue: the scheduler asks for joins on it, the results function asks to go on.
    join_queue_url: str = _setting("JOIN_QUEUE_URL", min_length=1)
    job_timeout_hours: int = _setting("JOB_TIMEOUT_HOURS", 72, ge=24, le=168)
    max_job_attempts: int = _setting("MAX_JOB_ATTEMPTS", 3, ge=1, le=10)
    # Bedrock's limits, used where Service Quotas cannot be read (the template's parameters).
    max_concurrent_jobs: int = _setting("MAX_CONCURRENT_JOBS", 20, ge=1)
    min_records_per_job: int = _setting("MIN_RECORDS_PER_JOB", 100, ge=1)
    max_records_per_job: int = _setting("MAX_RECORDS_PER_JOB", 50_000, ge=1)
    max_records_per_file: int = _setting("MAX_RECORDS_PER_FILE", 50_000, ge=1)
    max_input_file_bytes: int = _setting("MAX_INPUT_FILE_BYTES", 10**9, ge=1)
    max_job_bytes: int = _setting("MAX_JOB_BYTES", 5 * 10**9, ge=1)
    use_service_quotas: bool = _setting("USE_SERVICE_QUOTAS", True)
    # How bbq cuts and packs.
    part_records: int = _setting("PART_RECORDS", 5_000, ge=1)
    max_line_bytes: int = _setting("MAX_LINE_BYTES", 32 * 1024**2, ge=1024)
    max_upload_bytes: int = _setting("MAX_UPLOAD_BYTES", 20 * 1024**3, ge=1)
    rejected_lines: RejectedLines = _setting("REJECTED_LINES", RejectedLines.RUN_VALID)
    small_work: SmallWork = _setting("SMALL_WORK", SmallWork.ON_DEMAND)
    companion_wait_minutes: int = _setting("COMPANION_WAIT_MINUTES", 60, ge=0)
    stuck_after_hours: int = _setting("STUCK_AFTER_HOURS", 24, ge=1)
    # On-demand US dollars per million tokens, merged over bbq's table: {"<model id>": {"input": .., "output": ..}}
    # (a mistake in ModelPrices fails here, saying what the JSON must be).
    model_prices: str = _setting("MODEL_PRICES", "", check=PriceTable.with_overrides)
    # Teams: {"<team>": {"weight": 2, "dailyBudgetUsd": 50, "monthlyBudgetUsd": 1000}} (bbq.core.model.teams);
    # the stack's own budgets in US dollars ("" for none) cap every team together.
    teams: str = _setting("TEAMS", "", check=parse_teams)
    daily_budget_usd: str = _setting("DAILY_BUDGET_USD", "", check=parse_budget)
    monthly_budget_usd: str = _setting("MONTHLY_BUDGET_USD", "", check=parse_budget)
    # Deadlines: on-demand records a run gets through per minute, and the models to send them on the flex tier.
    on_demand_records_per_minute: int = _setting("ON_DEMAND_RECORDS_PER_MINUTE", 60, ge=1, le=100_000)
    flex_models: str = _setting("FLEX_MODELS", "")
    # KmsKeyArn: Bedrock's output is encrypted with it (the bucket, table and queues are set by the template).
    kms_key_arn: str = _setting("KMS_KEY_ARN", "", pattern=r"^$|^arn:aws[a-z\-]*:kms:[a-z0-9\-]+:\d{12}:key/.+$")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "Settings":
        values: dict[str, Any] = {}
        problems: list[str] = []
        for spec in fields(cls):
            rule = spec.metadata
            raw = environ.get(rule["env"])
            if raw is None:
                if rule["default"] is _REQUIRED:
                    problems.append(f"{rule['env']}: required, not set")
                values[spec.name] = rule["default"]
                continue
            try:
                values[spec.name] = _checked(_CONVERT[spec.type](raw), rule)
            except (ValueError, TypeError) as exc:
                problems.append(f"{rule['env']}={raw[:80]!r}: {exc}")
        if problems:
            raise SettingsError(f"{len(problems)} setting(s) wrong: " + "; ".join(problems))
        return cls(**values)

    def fallback_limits(self) -> ModelLimits:
        return ModelLimits(
            concurrent_jobs=self.max_concurrent_jobs,
            min_records_per_job=self.min_records_per_job,
            max_records_per_job=self.max_records_per_job,
            max_records_per_file=self.max_records_per_file,
            max_file_bytes=self.max_input_file_bytes,
            max_job_bytes=self.max_job_bytes,
        )

    def pipeline(self) -> PipelineConfig:
        return PipelineConfig(
            default_model_id=self.model_id,
            role_arn=self.batch_role_arn,
            job_name_prefix=self.job_name_prefix,
            allowed_models=tuple(m.strip() for m in self.allowed_models.split(",") if m.strip()),
            timeout_hours=self.job_timeout_hours,
            max_attempts=self.max_job_attempts,
            split=SplitPolicy(
                part_records=self.part_records,
                max_line_bytes=self.max_line_bytes,
                max_upload_bytes=self.max_upload_bytes,
            ),
            rejected_lines=self.rejected_lines,
            small_work=self.small_work,
            companion_wait=timedelta(minutes=self.companion_wait_minutes),
            stuck_after=timedelta(hours=self.stuck_after_hours),
            prices=PriceTable.with_overrides(self.model_prices),
            teams=Teams(
                parse_teams(self.teams), parse_budget(self.daily_budget_usd), parse_budget(self.monthly_budget_usd)
            ),
            on_demand_records_per_minute=self.on_demand_records_per_minute,
            flex_models=tuple(m.strip() for m in self.flex_models.split(",") if m.strip()),
        )


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in {"true", "false", "1", "0", "yes", "no"}:
        raise ValueError("not a boolean (true or false)")
    return value in {"true", "1", "yes"}


def _enum(kind: type[Enum]) -> Callable[[str], Enum]:
    def convert(raw: str) -> Enum:
        try:
            return kind(raw)
        except ValueError:
            raise ValueError(f"not one of {', '.join(str(m.value) for m in kind)}") from None

    return convert


def _integer(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError("not a whole number") from None


_CONVERT: dict[Any, Callable[[str], Any]] = {
    str: str,
    int: _integer,
    bool: _boolean,
    RejectedLines: _enum(RejectedLines),
    SmallWork: _enum(SmallWork),
}


def _checked(value: Any, rule: Mapping[str, Any]) -> Any:
    if "min_length" in rule and len(value) < rule["min_length"]:
        raise ValueError(f"shorter than {rule['min_length']} characters")
    if "pattern" in rule and not re.match(rule["pattern"], value):
        raise ValueError(f"does not match {rule['pattern']}")
    if "ge" in rule and value < rule["ge"]:
        raise ValueError(f"less than {rule['ge']}")
    if "le" in rule and value > rule["le"]:
        raise ValueError(f"more than {rule['le']}")
    if "check" in rule:
        rule["check"](value)
    return value
