"""The deployment's settings, read from the function's environment once per invocation and validated."""

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from bbq.core.config import PipelineConfig
from bbq.core.validation import InputLimits


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    jobs_table: str = Field(alias="JOBS_TABLE", min_length=3)
    model_id: str = Field(alias="MODEL_ID", min_length=1)
    batch_role_arn: str = Field(alias="BATCH_ROLE_ARN", pattern=r"^arn:aws[a-z\-]*:iam::\d{12}:role/.+")
    # At most 40 characters: a job name is <prefix>-<20 hex of the JobId>-a<attempt>, within Bedrock's 63.
    job_name_prefix: str = Field(alias="JOB_NAME_PREFIX", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9\-]{0,39}$")
    stack_name: str = Field(alias="STACK_NAME", default="bbq")
    max_concurrent_jobs: int = Field(alias="MAX_CONCURRENT_JOBS", default=10, ge=1)
    job_timeout_hours: int = Field(alias="JOB_TIMEOUT_HOURS", default=72, ge=24, le=168)
    min_records_per_job: int = Field(alias="MIN_RECORDS_PER_JOB", default=100, ge=1)
    max_records_per_job: int = Field(alias="MAX_RECORDS_PER_JOB", default=50_000, ge=1)
    max_input_file_bytes: int = Field(alias="MAX_INPUT_FILE_BYTES", default=1024**3, ge=1)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "Settings":
        return cls.model_validate(dict(environ))

    def pipeline(self) -> PipelineConfig:
        return PipelineConfig(
            default_model_id=self.model_id,
            role_arn=self.batch_role_arn,
            job_name_prefix=self.job_name_prefix,
            timeout_hours=self.job_timeout_hours,
            limits=InputLimits(
                min_records=self.min_records_per_job,
                max_records=self.max_records_per_job,
                max_file_bytes=self.max_input_file_bytes,
            ),
        )
