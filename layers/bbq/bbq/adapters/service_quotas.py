"""Service Quotas adapter for the LimitsProvider port: Bedrock's quotas listed once, then cached for an hour per
process (Lambda reuses it between invocations); the template's figures wherever the call is denied, fails or a
quota is missing."""

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from bbq.core.clock import Clock
from bbq.core.limits import ModelLimits
from bbq.core.quota_names import Quota, limits_from_quotas

if TYPE_CHECKING:  # typed clients for mypy (boto3-stubs); Lambda needs none of it
    from mypy_boto3_service_quotas import ServiceQuotasClient

log = logging.getLogger(__name__)
CACHE_FOR = timedelta(hours=1)


class ServiceQuotaLimits:
    def __init__(self, client: "ServiceQuotasClient", fallback: ModelLimits, clock: Clock) -> None:
        self._client = client
        self._fallback = fallback
        self._clock = clock
        self._listed: tuple[datetime, list[Quota]] | None = None
        self._reported: set[str] = set()

    def limits(self, model_id: str) -> ModelLimits:
        limits, found = limits_from_quotas(model_id, self._quotas(), self._fallback)
        if model_id not in self._reported:
            self._reported.add(model_id)
            missing = sorted(set(vars(limits)) - found)
            log.info(
                "model limits",
                extra={"model_id": model_id, "limits": vars(limits), "from_template_parameters": missing},
            )
        return limits

    def _quotas(self) -> list[Quota]:
        now = self._clock.now()
        if self._listed is None or now - self._listed[0] > CACHE_FOR:
            self._listed = (now, self._list())
        return self._listed[1]

    def _list(self) -> list[Quota]:
        try:
            pages = self._client.get_paginator("list_service_quotas").paginate(ServiceCode="bedrock")
            return [Quota(q["QuotaName"], float(q["Value"])) for page in pages for q in page["Quotas"] if "Value" in q]
        except (ClientError, BotoCoreError) as exc:
            log.warning(
                "could not read Bedrock's quotas from Service Quotas; using the template's figures for an hour "
                "(allow servicequotas:ListServiceQuotas, or set UseServiceQuotas to false to silence this)",
                extra={"error": str(exc)},
            )
            return []
