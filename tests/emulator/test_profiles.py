"""GetInferenceProfile, as botocore's model shapes it: a system-defined profile routes to its model in its
geography's Regions, an application profile to the model it was made from, anything else is not found."""

from typing import Any

import pytest
from bedrock_emulator.api import SERVICE
from botocore.exceptions import ClientError

from tests.emulator.helpers import assert_matches_shape

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def _check_shapes(answer: dict[str, Any]) -> None:
    """Every field as botocore's output shape requires (patterns, lengths, enums, required members)."""
    body = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
    assert_matches_shape(body, SERVICE.operation_model("GetInferenceProfile").output_shape)


def test_a_cross_region_profile_routes_to_its_model_in_its_geography(bedrock: Any) -> None:
    answer = bedrock.get_inference_profile(inferenceProfileIdentifier=f"us.{HAIKU}")
    _check_shapes(answer)
    assert answer["type"] == "SYSTEM_DEFINED" and answer["status"] == "ACTIVE"
    assert {m["modelArn"].rsplit("/", 1)[1] for m in answer["models"]} == {HAIKU}
    assert {m["modelArn"].split(":")[3] for m in answer["models"]} == {"us-east-1", "us-east-2", "us-west-2"}
    by_arn = bedrock.get_inference_profile(inferenceProfileIdentifier=answer["inferenceProfileArn"])
    assert by_arn["inferenceProfileId"] == f"us.{HAIKU}"


def test_an_application_profile_routes_to_the_model_it_was_made_from(bedrock: Any, emulator: Any) -> None:
    emulator.application_profiles["a1b2c3d4e5f6"] = "amazon.nova-lite-v1:0"
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
    answer = bedrock.get_inference_profile(inferenceProfileIdentifier=arn)
    _check_shapes(answer)
    assert answer["type"] == "APPLICATION" and answer["models"][0]["modelArn"].endswith("/amazon.nova-lite-v1:0")


@pytest.mark.parametrize(
    "identifier", [HAIKU, "us.meta.llama2-13b-chat-v1", "xx.anthropic.claude-3-haiku-20240307-v1:0"]
)
def test_anything_else_is_not_found(bedrock: Any, identifier: str) -> None:
    with pytest.raises(ClientError) as refused:
        bedrock.get_inference_profile(inferenceProfileIdentifier=identifier)
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_identifier_outside_the_pattern_is_a_validation_error(bedrock: Any) -> None:
    with pytest.raises(ClientError) as refused:
        bedrock.get_inference_profile(inferenceProfileIdentifier="not a profile!")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
