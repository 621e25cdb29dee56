"""Stateful fuzzing: schemathesis chains operations along the links it finds in our schema
(create a bounty, then read, cancel and list it; ask a question, then attach, resolve, read its
forecast...) with valid and invalid data, as two agents taking turns. Properties: never a 5xx,
every response as documented, and nothing one agent created is readable or changeable by the
other.

``FUZZ_EXAMPLES`` sets the number of scenarios (`make fuzz`); each step counts as one case."""

from datetime import timedelta
from typing import Any, ClassVar

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import response_schema_conformance

from forecasting.services import question_create
from market.ledger.services import wallet_credit_test_funds
from tests.bounties.helpers import funded_bounty, submit
from tests.conftest import Actor, make_actor
from tests.factories import RequesterFactory, UserFactory
from tests.fuzz import count_case, fuzz_examples

CHECKS = [not_a_server_error, response_schema_conformance]
pytestmark = pytest.mark.usefixtures("keep_the_test_connection", "no_api_throttle")
# What an agent owns, by its collection, and the path parameter that names one.
OWNED = {
    "/api/v1/bounties/": ("bounty", "bounty_id"),
    "/api/v1/questions/": ("question", "question_id"),
    "/api/v1/webhook-endpoints/": ("webhook", "endpoint_id"),
}

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


@schema.hook
def map_case(context: Any, case: Case) -> Case:
    """Valid cases that create things get a window that is open now and a currency the agents
    hold, which random data almost never finds, so the links from what they create get walked.
    Invalid (negative) cases are left as generated."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return case
    if not isinstance(case.body, dict) or case.method != "POST":
        return case
    now = timezone.now()
    if case.operation.path == "/api/v1/bounties/":
        case.body.pop("starts_at", None)
        case.body.update(currency="usd", quantity=1, ends_at=(now + timedelta(hours=1)).isoformat())
    elif case.operation.path == "/api/v1/questions/":
        case.body.update(
            closes_at=(now + timedelta(hours=1)).isoformat(),
            resolves_at=(now + timedelta(hours=2)).isoformat(),
            evidence_template={},
        )
    return case


BaseWorkflow: Any = schema.as_state_machine()


class TwoAgents(BaseWorkflow):
    """Each step is sent with one of two agents' keys, in turn."""

    keys: ClassVar[list[str]] = []
    # (kind, id) -> the key of the agent that owns it: the fixture's, then each one created.
    seeded: ClassVar[dict[tuple[str, int], str]] = {}

    def setup(self) -> None:
        self.turn = 0
        self.owner_of = dict(self.seeded)
        # Each scenario starts from the fixture's data: what one wrote must not change which
        # links the next can follow (Hypothesis replays scenarios and needs them repeatable).
        self.scenario = transaction.atomic()
        self.scenario.__enter__()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.scenario.__exit__(None, None, None)

    def get_call_kwargs(self, case: Case) -> dict[str, Any]:
        self.turn += 1
        key = self.keys[self.turn % len(self.keys)]
        return {"headers": {"Authorization": f"Bearer {key}"}}

    def validate_response(self, response: Any, case: Case, **kwargs: Any) -> None:
        count_case("api-stateful")
        case.validate_response(response, checks=CHECKS)
        key = kwargs["headers"]["Authorization"].removeprefix("Bearer ")
        path = case.operation.path
        if case.method == "POST" and path in OWNED and response.status_code == 201:
            self.owner_of[(OWNED[path][0], response.json()["id"])] = key
            return
        for collection, (kind, parameter) in OWNED.items():
            value = (case.path_parameters or {}).get(parameter)
            if not path.startswith(collection) or not isinstance(value, int):
                continue
            owner = self.owner_of.get((kind, value))
            if owner is not None and owner != key:
                count_case("api-cross-agent")
                assert not 200 <= response.status_code < 300, (
                    f"{case.method} {path} of another agent's {kind} answered "
                    f"{response.status_code}"
                )


@pytest.fixture
def two_agents(db: None) -> list[Actor]:
    """Two funded agents of different requesters, each with a bounty, a submission and a
    question."""
    agents = [make_actor(owner=RequesterFactory()) for _ in range(2)]
    TwoAgents.keys = [actor.key for actor in agents]
    TwoAgents.seeded = {}
    for index, actor in enumerate(agents):
        wallet_credit_test_funds(
            agent=actor.agent, amount_minor=100_000_000, idempotency_key=f"fuzz-{index}"
        )
        bounty = funded_bounty(actor.agent)
        submit(bounty, UserFactory())
        question = question_create(
            agent=actor.agent, title="Q", resolution_criteria="C",
            closes_at=timezone.now() + timedelta(hours=1),
            resolves_at=timezone.now() + timedelta(hours=2),
        )  # fmt: skip
        TwoAgents.seeded[("bounty", bounty.pk)] = actor.key
        TwoAgents.seeded[("question", question.pk)] = actor.key
    return agents


@pytest.mark.fuzz
@pytest.mark.django_db
def test_linked_operations_never_fail_as_two_agents(two_agents: list[Actor]) -> None:
    TwoAgents.run(
        settings=settings(
            max_examples=fuzz_examples(15),
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
