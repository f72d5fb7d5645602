"""Which model runs an upload, and how (InvokeModel or Converse), from its key and object metadata.

The convention (README, "Choosing the model"):
- ``to-process/<model id or inference profile id>/...`` runs on that model; any other first folder runs on
  the stack's ``ModelId``;
- the next folder (if it is not ``converse``) names the team the upload belongs to (``bbq.core.model.teams``);
- a ``converse/`` folder (right under ``to-process/``, the model folder or the team folder) makes it a Converse
  job;
- object metadata ``bbq-model``, ``bbq-team`` and ``bbq-invocation-type`` (``x-amz-meta-...``) override them;
  ``bbq-priority`` (high, normal, low) orders it among its team's uploads; ``bbq-deadline`` (ISO 8601) is when
  it must be done by (``scheduling.deadlines``).
A model outside the stack's ``AllowedModels``, or a team name bbq cannot use, is refused with a message saying so.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bbq.core.model.files import InvocationType
from bbq.core.model.naming import INPUT_PREFIX
from bbq.core.model.teams import (
    DEFAULT_TEAM,
    NAME_RULE,
    TEAM_METADATA,
    TEAM_NAME,
    Priority,
    deadline_of,
    priority_of,
)

MODEL_METADATA = "bbq-model"
INVOCATION_METADATA = "bbq-invocation-type"
CONVERSE_FOLDER = "converse"
# A first folder that names a model (an optional Region-set prefix, then a Bedrock provider) but is not allowed
# is refused rather than run on the default model: the user clearly meant that model.
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_MODEL_LIKE = re.compile(
    r"^(?:(?:us|eu|apac|us-gov|jp|au|ca|global)\.)?"
    r"(?:anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer|twelvelabs|stability|luma)\.",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Route:
    model_id: str
    invocation_type: InvocationType
    team: str = DEFAULT_TEAM
    priority: Priority = Priority.NORMAL
    deadline: datetime | None = None


class RouteRefused(ValueError):
    """The upload names a model or invocation type this stack does not run (the message says what to do)."""


def route(key: str, metadata: Mapping[str, str], allowed: Sequence[str], default_model: str) -> Route:
    folders = key.removeprefix(INPUT_PREFIX).split("/")[:-1]
    by_folder = {_folder_name(model): model for model in allowed}
    model = metadata.get(MODEL_METADATA)
    if model is None and folders and (folders[0] in by_folder or _MODEL_LIKE.match(folders[0])):
        model = by_folder.get(folders[0], folders[0])
        folders = folders[1:]
    model = by_folder.get(model, model) if model else default_model
    if model not in allowed:
        raise RouteRefused(
            f"model {model!r} is not one this stack runs; allowed: {', '.join(allowed)}. Upload under "
            "to-process/<one of those>/, or add the model to the stack's AllowedModels parameter"
        )
    team = metadata.get(TEAM_METADATA)
    if team is not None and not TEAM_NAME.match(team):
        raise RouteRefused(f"{TEAM_METADATA} metadata is {team!r}, not a team name: {NAME_RULE}")
    if folders and folders[0].lower() != CONVERSE_FOLDER:
        team = team or team_of_folder(folders[0])
        folders = folders[1:]
    try:
        priority, deadline = priority_of(metadata), deadline_of(metadata)
    except ValueError as exc:
        raise RouteRefused(str(exc)) from None
    kind = _invocation_type(metadata.get(INVOCATION_METADATA), folders)
    return Route(model, kind, team or DEFAULT_TEAM, priority, deadline)


def team_of_folder(folder: str) -> str:
    """A folder names its team as written, less what a team name cannot hold (``my folder`` is ``my-folder``):
    a folder is the user's to name, so it is never refused for its spelling."""
    team = _NOT_IN_NAME.sub("-", folder).lstrip("._-")[:64]
    return team or DEFAULT_TEAM


def _invocation_type(declared: str | None, folders: list[str]) -> InvocationType:
    if declared is None:
        converse = bool(folders) and folders[0].lower() == CONVERSE_FOLDER
        return InvocationType.CONVERSE if converse else InvocationType.INVOKE_MODEL
    for kind in InvocationType:
        if declared.lower() == kind.value.lower():
            return kind
    raise RouteRefused(f"{INVOCATION_METADATA} metadata is {declared!r}; use InvokeModel or Converse")


def _folder_name(model: str) -> str:
    """The folder that names a model: its id, or for an ARN the id after the last '/'."""
    return model.rsplit("/", 1)[-1]
