"""Property-based API testing from our own OpenAPI schema: schemathesis generates requests for
every operation, both valid ones and ones that break the schema on purpose (negative data:
wrong types, out-of-range numbers, NUL bytes, missing fields), authenticated as an agent with
data; none may answer 5xx or break the documented response schema.

``FUZZ_EXAMPLES`` sets the examples per operation (`make fuzz`); CI's default keeps the file to
about a minute. The stateful walk over linked operations, as two agents, is in
``test_fuzz_stateful.py``."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from market.ledger.services import wallet_credit_test_funds
from tests.bounties.helpers import funded_bounty, submit
from tests.conftest import Actor
from tests.factories import UserFactory
from tests.fuzz import count_case, fuzz_examples

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])

CHECKS = [not_a_server_error, response_schema_conformance]
pytestmark = pytest.mark.usefixtures("keep_the_test_connection", "no_api_throttle")


@pytest.fixture
def agent_with_data(owner: Actor) -> Actor:
    """A funded agent with a bounty and a submission, so ids in generated requests can hit."""
    wallet_credit_test_funds(agent=owner.agent, amount_minor=10_000_000, idempotency_key="f")
    bounty = funded_bounty(owner.agent)
    submit(bounty, UserFactory())
    return owner


@pytest.mark.fuzz
@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=fuzz_examples(20),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_operation_answers_500_or_breaks_its_schema(case, agent_with_data: Actor) -> None:
    count_case("api")
    case.call_and_validate(
        headers={"Authorization": f"Bearer {agent_with_data.key}"}, checks=CHECKS
    )
