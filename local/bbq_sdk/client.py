"""``Client``: one bbq stack (deployed, or `bbq local up`'s), found from its CloudFormation outputs."""

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bbq.core.intake.tables import TEMPLATE_METADATA, TEMPLATES_PREFIX
from bbq.core.intake.templates import PromptTemplate
from bbq.core.model import naming
from bbq_sdk import inputs
from bbq_sdk.runs import Run
from bbq_sdk.stacks import StackInfo, StackNotFound, find_stack, upload_key, upload_metadata

_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Client:
    """A bbq stack: ``Client(stack="bbq")`` with the default AWS credentials and Region (or a boto3
    ``session``), ``Client.local()`` for the stack `bbq local up` runs on this machine."""

    stack: str = "bbq"
    session: Any = None  # a boto3.Session
    endpoints: dict[str, str] = field(default_factory=dict)  # service -> endpoint URL (the local stack)
    _info: StackInfo | None = field(default=None, init=False, repr=False)
    _made: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def local(cls, stack: str = "bbq") -> "Client":
        import boto3

        from bbq_local.commands import local_endpoint

        state = local_endpoint.load()
        if state is None:
            raise StackNotFound("no local stack: start one with `bbq local up`")
        env = local_endpoint.variables(state)
        session = boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        )
        bedrock = env["AWS_ENDPOINT_URL_BEDROCK"]  # the emulator: Bedrock, its runtime and Service Quotas
        endpoints = {"default": env["AWS_ENDPOINT_URL"], "bedrock": bedrock, "bedrock-runtime": bedrock}
        endpoints["service-quotas"] = bedrock
        return cls(stack=stack, session=session, endpoints=endpoints)

    @classmethod
    def for_stack(cls, info: StackInfo) -> "Client":
        """A client of a stack already found (the CLI's), with the environment's credentials and endpoints: its
        outputs are not asked for again."""
        client = cls(stack=info.name)
        client._info = info
        return client

    def client(self, service: str) -> Any:
        """A boto3 client for the stack's account and Region (standard retries), made once."""
        if service not in self._made:
            import boto3
            from botocore.config import Config

            session = self.session or boto3.Session()
            endpoint = self.endpoints.get(service, self.endpoints.get("default"))
            config = Config(retries={"mode": "standard"})
            self._made[service] = session.client(service, endpoint_url=endpoint, config=config)  # type: ignore[call-overload]
        return self._made[service]

    @property
    def info(self) -> StackInfo:
        if self._info is None:
            self._info = find_stack(self.client("cloudformation"), self.stack)
        return self._info

    # -- submitting ---------------------------------------------------------------------------------------------
    def submit(
        self,
        data: Any,
        *,
        model: str | None = None,
        template: "str | Path | PromptTemplate | None" = None,
        id_column: str | None = None,
        converse: bool = False,
        name: str | None = None,
        prefix: str = "",
        force: bool = False,
        team: str | None = None,
        priority: str | None = None,
        deadline: datetime | str | None = None,
        **options: Any,
    ) -> Run:
        """Uploads ``data`` (a DataFrame, a path, or rows) for bbq to run; the Run that watches it.

        With a template, each row is rendered into the model's request body here, before anything is uploaded
        (``options``: system, max_tokens, temperature, dimensions, normalize, input_type override the
        template's); without one, ``data`` must be a ``.jsonl`` path already in Bedrock's input format. The same
        bytes under the same key as an upload that ran are skipped and the Run follows that upload, unless
        ``force``. ``team`` (its share of the slots and the budget it spends), ``priority`` (high, normal, low
        within the team) and ``deadline`` (a datetime, or ISO 8601) go with it as its metadata."""
        model_id = self._model(model)
        key = self.key_for(name or _default_name(data), model, converse, prefix)
        metadata = upload_metadata(force=force, team=team, priority=priority, deadline=deadline)
        if template is None:
            if not isinstance(data, str | Path) or Path(data).suffix.lower() != ".jsonl":
                raise ValueError("without a template, submit takes a .jsonl path in Bedrock's input format")
            return self._upload(Path(data), key, metadata)
        rows, parsed = inputs.prepared(data, template, id_column, converse, options)
        if parsed.schema is not None:  # ingest takes the schema from the template object the upload names
            metadata[TEMPLATE_METADATA] = self._put_template(parsed)
        rendered, _ = inputs.render_to_file(rows, parsed, model_id)
        try:
            return self._upload(rendered, key, metadata)
        finally:
            rendered.unlink(missing_ok=True)

    def estimate(
        self,
        data: Any,
        *,
        model: str | None = None,
        template: "str | Path | PromptTemplate | None" = None,
        id_column: str | None = None,
        converse: bool = False,
        **options: Any,
    ) -> dict[str, Any]:
        """What submitting ``data`` would cost, before anything is uploaded: records, estimated input tokens,
        the bound on output tokens, at the batch price beside the on-demand one (bbq.core.intake.estimate)."""
        from bbq.adapters.bedrock_runtime import BedrockTokenCounter
        from bbq.core.intake.estimate import estimate
        from bbq.core.model.files import InvocationType
        from bbq_sdk.costs import stack_prices

        model_id = self._model(model)
        prices = stack_prices(self.info)
        counter = BedrockTokenCounter(self.client("bedrock-runtime"))
        kind = InvocationType.CONVERSE if converse else InvocationType.INVOKE_MODEL
        if template is None:
            if not isinstance(data, str | Path):
                raise ValueError("without a template, estimate takes a .jsonl path in Bedrock's input format")
            from bbq.core.intake.tables import jsonl_rows

            bodies = (row.get("modelInput") or {} for row in jsonl_rows(inputs.file_chunks(Path(data))))
            return estimate(model_id, bodies, prices, counter, kind).as_dict()
        rows, parsed = inputs.prepared(data, template, id_column, converse, options)
        return estimate(model_id, inputs.model_inputs(rows, parsed, model_id), prices, counter, kind).as_dict()

    def key_for(self, name: str, model: str | None, converse: bool, prefix: str = "") -> str:
        stem = _NAME.sub("-", Path(name).name)
        stem = stem if stem.lower().endswith(naming.INPUT_SUFFIX) else f"{Path(stem).stem or stem}.jsonl"
        key = upload_key(stem, model, converse, prefix)
        if problem := naming.key_problem(key):
            raise ValueError(f"{key!r} is a key bbq never runs: {problem}")
        return key

    def _model(self, model: str | None) -> str:
        return self.info.model_for(model)

    def _put_template(self, template: PromptTemplate) -> str:
        import orjson

        source = f"---\nschema: {orjson.dumps(template.schema).decode()}\n---\n{template.text}\n"
        name = hashlib.sha256(source.encode()).hexdigest()[:16] + ".txt"
        self.client("s3").put_object(Bucket=self.info.bucket, Key=TEMPLATES_PREFIX + name, Body=source.encode())
        return name

    def _upload(self, path: Path, key: str, metadata: dict[str, str]) -> Run:
        s3 = self.client("s3")
        s3.upload_file(str(path), self.info.bucket, key, ExtraArgs={"Metadata": metadata} if metadata else None)
        head = s3.head_object(Bucket=self.info.bucket, Key=key)
        version = head.get("VersionId") or head["ETag"].strip('"')
        return Run(self, key, version)

    # -- watching -----------------------------------------------------------------------------------------------
    def status_query(self) -> Any:
        from bbq.adapters.dynamodb.status import DynamoStatus

        return DynamoStatus(self.client("dynamodb"), self.info.table)

    def runs(self) -> list[Run]:
        """Every upload the stack knows, oldest first."""
        files = sorted(self.status_query().files(), key=lambda f: (f.created_at, f.key))
        return [Run(self, f.key, f.version) for f in files]

    def models(self) -> list[dict[str, Any]]:
        """Each model's queue: waiting records, jobs running and pending, slots in use and the limit, the rate
        Bedrock measures and when the queue drains at it (``bbq status``'s models table)."""
        from bbq_sdk.views import model_progresses, model_view

        progresses = model_progresses(self.info.models(), self.status_query(), datetime.now(UTC))
        return [model_view(progress) for progress in progresses.values()]

    def costs(self, forecast: bool = False) -> dict[str, Any]:
        """What the stack spends (``bbq cost --json``): the uploads that ended per team and model, each budget line
        of today and this month (spent, reserved, budget, left, reset), and with ``forecast`` the queued work."""
        from bbq_sdk.costs import report

        return report(self.info, self.status_query(), datetime.now(UTC), with_forecast=forecast)

    def run(self, key: str) -> Run:
        """The newest upload of a key (the prefix to-process/ may be left out)."""
        key = key if key.startswith(naming.INPUT_PREFIX) else naming.INPUT_PREFIX + key
        file = self.status_query().newest_upload(key)
        if file is None:
            raise LookupError(f"no upload {key!r} in stack {self.stack}")
        return Run(self, file.key, file.version)


def _default_name(data: Any) -> str:
    if isinstance(data, str | Path):
        return Path(data).name
    return f"sdk-{datetime.now(UTC):%Y%m%dT%H%M%S}.jsonl"
