"""The deployment's settings, read from the function's environment once per invocation and validated."""

from collections.abc import Mapping
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bbq.core.model.config import PipelineConfig, RejectedLines, SmallWork
from bbq.core.model.limits import ModelLimits, SplitPolicy
from bbq.core.model.prices import PriceTable


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    jobs_table: str = Field(alias="JOBS_TABLE", min_length=3)
    model_id: str = Field(alias="MODEL_ID", min_length=1)
    # Comma-separated models and inference profiles uploads may name (the default model is always allowed).
    allowed_models: str = Field(alias="ALLOWED_MODELS", default="")
    batch_role_arn: str = Field(alias="BATCH_ROLE_ARN", pattern=r"^arn:aws[a-z\-]*:iam::\d{12}:role/.+")
    # At most 40 characters: a job name is <prefix>-<20 hex of the JobId>-a<attempt>, within Bedrock's 63.
    job_name_prefix: str = Field(alias="JOB_NAME_PREFIX", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9\-]{0,39}$")
    stack_name: str = Field(alias="STACK_NAME", default="bbq")
    # The results function's queue: the scheduler asks for joins on it, the results function asks to go on.
    join_queue_url: str = Field(alias="JOIN_QUEUE_URL", min_length=1)
    job_timeout_hours: int = Field(alias="JOB_TIMEOUT_HOURS", default=72, ge=24, le=168)
    max_job_attempts: int = Field(alias="MAX_JOB_ATTEMPTS", default=3, ge=1, le=10)
    # Bedrock's limits, used where Service Quotas cannot be read (the template's parameters).
    max_concurrent_jobs: int = Field(alias="MAX_CONCURRENT_JOBS", default=20, ge=1)
    min_records_per_job: int = Field(alias="MIN_RECORDS_PER_JOB", default=100, ge=1)
    max_records_per_job: int = Field(alias="MAX_RECORDS_PER_JOB", default=50_000, ge=1)
    max_records_per_file: int = Field(alias="MAX_RECORDS_PER_FILE", default=50_000, ge=1)
    max_input_file_bytes: int = Field(alias="MAX_INPUT_FILE_BYTES", default=10**9, ge=1)
    max_job_bytes: int = Field(alias="MAX_JOB_BYTES", default=5 * 10**9, ge=1)
    use_service_quotas: bool = Field(alias="USE_SERVICE_QUOTAS", default=True)
    # How bbq cuts and packs.
    part_records: int = Field(alias="PART_RECORDS", default=5_000, ge=1)
    max_line_bytes: int = Field(alias="MAX_LINE_BYTES", default=32 * 1024**2, ge=1024)
    max_upload_bytes: int = Field(alias="MAX_UPLOAD_BYTES", default=20 * 1024**3, ge=1)
    rejected_lines: RejectedLines = Field(alias="REJECTED_LINES", default=RejectedLines.RUN_VALID)
    small_work: SmallWork = Field(alias="SMALL_WORK", default=SmallWork.ON_DEMAND)
    companion_wait_minutes: int = Field(alias="COMPANION_WAIT_MINUTES", default=60, ge=0)
    stuck_after_hours: int = Field(alias="STUCK_AFTER_HOURS", default=24, ge=1)
    # On-demand US dollars per million tokens, merged over bbq's table: {"<model id>": {"input": .., "output": ..}}
    model_prices: str = Field(alias="MODEL_PRICES", default="")
    # KmsKeyArn: Bedrock's output is encrypted with it (the bucket, table and queues are set by the template).
    kms_key_arn: str = Field(
        alias="KMS_KEY_ARN", default="", pattern=r"^$|^arn:aws[a-z\-]*:kms:[a-z0-9\-]+:\d{12}:key/.+$"
    )

    @field_validator("model_prices")
    @classmethod
    def _prices_parse(cls, value: str) -> str:
        PriceTable.with_overrides(value)  # a mistake in ModelPrices fails here, saying what the JSON must be
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "Settings":
        return cls.model_validate(dict(environ))

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
        )
