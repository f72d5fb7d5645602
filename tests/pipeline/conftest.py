"""The deployed stack in moto, the handlers in-process, the emulator as Bedrock."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bbq_local.pipeline import LocalPipeline


@pytest.fixture
def make_pipeline(aws: None) -> Iterator[Callable[..., LocalPipeline]]:
    made: list[LocalPipeline] = []

    def make(**kwargs: Any) -> LocalPipeline:
        pipeline = LocalPipeline(**kwargs)
        made.append(pipeline)
        return pipeline

    yield make
    for pipeline in made:
        pipeline.close()


@pytest.fixture
def pipeline(make_pipeline: Callable[..., LocalPipeline]) -> LocalPipeline:
    return make_pipeline(quota=2)
