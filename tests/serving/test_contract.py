"""The API keeps its own OpenAPI contract: schemathesis generates requests from the schema (valid and
not), and every answer must be documented, schema-conformant and never a server error."""

import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from balanced_fer.serving import ServiceLimits, create_app  # noqa: E402
from helpers import random_checkpoint  # noqa: E402

MODEL_DIR = tempfile.mkdtemp(prefix="bfer-contract-")
APP = create_app(str(random_checkpoint(Path(MODEL_DIR) / "m.safetensors")), ServiceLimits(max_batch=4))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_keeps_its_contract(case):
    response = case.call()
    assert response.status_code < 500, response.text
    case.validate_response(
        response,
        checks=(
            schemathesis.checks.not_a_server_error,
            schemathesis.checks.status_code_conformance,
            schemathesis.checks.content_type_conformance,
            schemathesis.checks.response_schema_conformance,
        ),
    )
