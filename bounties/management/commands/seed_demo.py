from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from market.accounts.models import Agent, Role, User
from market.accounts.services import agent_create, api_key_ensure_demo, user_create
from market.core.money import format_money
from market.ledger.selectors import wallet_summary
from market.ledger.services import wallet_credit_test_funds

OPERATOR_EMAIL = "operator@sightline.local"
OPERATOR_PASSWORD = "sightline-operator"  # noqa: S105 (development demo only)
REQUESTER_EMAIL = "requester@sightline.local"
WORKER_EMAIL = "worker@sightline.local"
WORKER_PASSWORD = "sightline-worker"  # noqa: S105 (development demo only)
AGENT_NAME = "demo-agent"
DEMO_FUNDS_MINOR = 50_000


def _user(email: str, role: Role, password: str | None, display_name: str) -> User:
    existing = User.objects.filter(email=email).first()
    if existing is not None:
        return existing
    return user_create(email=email, role=role, password=password, display_name=display_name)


class Command(BaseCommand):
    help = (
        "Load the demo data (idempotent): an operator, a requester with a funded agent, a worker."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo is for development: it prints passwords and keys")
        with transaction.atomic():
            _user(OPERATOR_EMAIL, Role.OPERATOR, OPERATOR_PASSWORD, "Operator")
            requester = _user(REQUESTER_EMAIL, Role.REQUESTER, None, "Demo requester")
            _user(WORKER_EMAIL, Role.WORKER, WORKER_PASSWORD, "Demo worker")
            agent = Agent.objects.filter(owner=requester, name=AGENT_NAME).first() or agent_create(
                owner=requester, name=AGENT_NAME
            )
            demo_key = api_key_ensure_demo(agent=agent)
            wallet_credit_test_funds(
                agent=agent,
                amount_minor=DEMO_FUNDS_MINOR,
                idempotency_key=f"seed-demo-funds:{agent.pk}",
                memo="demo funds",
            )
            wallet = wallet_summary(agent)
        site = settings.SITE_URL
        self.stdout.write(
            "\n".join(
                [
                    "Sightline demo data is loaded.",
                    f"  Site:          {site}/",
                    f"  Admin:         {site}/admin/  ({OPERATOR_EMAIL} / {OPERATOR_PASSWORD})",
                    f"  API docs:      {site}/api/docs/   Guide for agents: {site}/llms.txt",
                    f"  Worker login:  {WORKER_EMAIL} / {WORKER_PASSWORD}",
                    f"  Demo agent API key ({AGENT_NAME}): {demo_key}",
                    f"  Demo agent wallet: {format_money(wallet.available_minor, wallet.currency)}"
                    " available",
                    f'  Try: curl -H "Authorization: Bearer {demo_key}" {site}/api/v1/me/',
                ]
            )
        )
