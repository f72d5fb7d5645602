"""A bbq stack found from its CloudFormation outputs and parameters (light: the CLI's --help imports it)."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime


class StackNotFound(LookupError):
    """No bbq stack under that name, where these credentials look."""


@dataclass(frozen=True)
class StackInfo:
    name: str
    outputs: dict[str, str]
    parameters: dict[str, str]

    @property
    def bucket(self) -> str:
        return self.outputs["BucketName"]

    @property
    def table(self) -> str:
        return self.outputs["JobsTableName"]

    def models(self) -> list[str]:
        """The models the stack runs: ModelId, then each of AllowedModels."""
        allowed = [m.strip() for m in self.parameters.get("AllowedModels", "").split(",") if m.strip()]
        return [m for m in dict.fromkeys([self.parameters.get("ModelId", ""), *allowed]) if m]

    def model_for(self, model: str | None) -> str:
        """The model id an upload names (an id, or an ARN's last segment as its folder), the stack's default
        for None; a ValueError naming the models it runs for any other."""
        models = self.models()
        if model is None:
            return models[0] if models else ""
        folders = {m.rsplit("/", 1)[-1]: m for m in models}
        if models and model not in models and model not in folders:
            raise ValueError(
                f"{model!r} is not a model this stack runs; use one of: {', '.join(models)} "
                "(or add it to the stack's AllowedModels parameter)"
            )
        return folders.get(model, model)


def upload_key(name: str, model: str | None, converse: bool, prefix: str = "") -> str:
    """Where an upload goes: to-process/[<model's folder>/][converse/][<prefix>/]<name> (README, "Choosing the
    model")."""
    folder = model.rsplit("/", 1)[-1] if model else None
    folders = [f for f in (folder, "converse" if converse else None, prefix.strip("/") or None) if f]
    return "/".join(["to-process", *folders, name])


def find_stack(cloudformation: Any, name: str) -> StackInfo:
    from botocore.exceptions import ClientError

    try:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        raise StackNotFound(f"no stack {name!r} here ({exc.response['Error']['Message']})") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    if "JobsTableName" not in outputs:
        raise StackNotFound(f"stack {name!r} has no JobsTableName output: is it a bbq stack?")
    return StackInfo(name, outputs, parameters)


def upload_metadata(
    *,
    force: bool = False,
    team: str | None = None,
    priority: str | None = None,
    deadline: "datetime | str | None" = None,
) -> dict[str, str]:
    """An upload's object metadata: bbq-force, bbq-team, bbq-priority, bbq-deadline (README, "Teams, budgets and
    deadlines"); a ValueError saying what to change for a team name, priority or deadline bbq would refuse."""
    from datetime import UTC, datetime

    from bbq.core.intake.repeats import FORCE_METADATA
    from bbq.core.model.teams import (
        DEADLINE_METADATA,
        NAME_RULE,
        PRIORITY_METADATA,
        TEAM_METADATA,
        TEAM_NAME,
        deadline_of,
        priority_of,
    )

    metadata = {FORCE_METADATA: "true"} if force else {}
    if team is not None:
        if not TEAM_NAME.match(team):
            raise ValueError(f"team {team!r}: {NAME_RULE}")
        metadata[TEAM_METADATA] = team
    if priority is not None:
        metadata[PRIORITY_METADATA] = priority_of({PRIORITY_METADATA: priority}).value
    if deadline is not None:
        when = deadline if isinstance(deadline, datetime) else deadline_of({DEADLINE_METADATA: deadline})
        assert when is not None
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        metadata[DEADLINE_METADATA] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return metadata
