"""Service Quotas adapter for the LimitsProvider port: Bedrock's applied quotas (ListServiceQuotas) and AWS's
defaults (ListAWSDefaultServiceQuotas: the quotas with no applied value, such as those that cannot be adjusted,
are only there), each listed once and cached for an hour per process (Lambda reuses it between invocations); the
template's figures wherever a list is denied, fails or lacks a quota."""

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from bbq.core.model.clock import Clock
from bbq.core.model.limits import ModelLimits
from bbq.core.model.quota_names import LimitSource, Quota, limits_from_quotas

if TYPE_CHECKING:  # typed clients for mypy (boto3-stubs); Lambda needs none of it
    from mypy_boto3_service_quotas import ServiceQuotasClient

log = logging.getLogger(__name__)
CACHE_FOR = timedelta(hours=1)
_LISTS = {"applied": "list_service_quotas", "defaults": "list_aws_default_service_quotas"}


class ServiceQuotaLimits:
    def __init__(self, client: "ServiceQuotasClient", fallback: ModelLimits, clock: Clock) -> None:
        self._client = client
        self._fallback = fallback
        self._clock = clock
        self._listed: tuple[datetime, dict[str, list[Quota]]] | None = None
        self._reported: set[str] = set()

    def limits(self, model_id: str) -> ModelLimits:
        return self.describe(model_id)[0]

    def describe(self, model_id: str) -> tuple[ModelLimits, dict[str, LimitSource]]:
        """The model's limits and where each came from (logged once per model and process)."""
        quotas = self._quotas()
        limits, sources = limits_from_quotas(model_id, quotas["applied"], quotas["defaults"], self._fallback)
        if model_id not in self._reported:
            self._reported.add(model_id)
            log.info(
                "model limits",
                extra={
                    "model_id": model_id,
                    "limits": vars(limits),
                    "sources": {field: str(source) for field, source in sources.items()},
                },
            )
        return limits, sources

    def _quotas(self) -> dict[str, list[Quota]]:
        now = self._clock.now()
        if self._listed is None or now - self._listed[0] > CACHE_FOR:
            self._listed = (now, {which: self._list(operation) for which, operation in _LISTS.items()})
        return self._listed[1]

    def _list(self, operation: str) -> list[Quota]:
        try:
            pages = self._client.get_paginator(operation).paginate(ServiceCode="bedrock")  # type: ignore[call-overload]
            return [Quota(q["QuotaName"], float(q["Value"])) for page in pages for q in page["Quotas"] if "Value" in q]
        except (ClientError, BotoCoreError) as exc:
            log.warning(
                "could not read Bedrock's quotas from Service Quotas; using the template's figures for an hour "
                "(allow servicequotas:ListServiceQuotas and servicequotas:ListAWSDefaultServiceQuotas, or set "
                "UseServiceQuotas to false to silence this)",
                extra={"operation": operation, "error": str(exc)},
            )
            return []
