"""What the core needs to know about the deployment, already parsed and validated."""

from dataclasses import dataclass, field

from bbq.core.validation import InputLimits


@dataclass(frozen=True)
class PipelineConfig:
    default_model_id: str
    role_arn: str
    job_name_prefix: str
    timeout_hours: int = 72
    limits: InputLimits = field(default_factory=InputLimits)
