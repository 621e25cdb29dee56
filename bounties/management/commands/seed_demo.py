from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from bounties.models import BountyStatus
from bounties.services import BountySpec, bounty_create
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
# Around Arezzo, where ../shared/photos/DSCN0010.jpg (and its neighbours) were taken.
DEMO_BOUNTIES = [
    ("Queue outside the bakery", "a queue of people outside a bakery", 43.467448, 11.885127, 150),
    ("Is the market open?", "market stalls with goods and shoppers", 43.467082, 11.884538, 200),
    ("Parking on Via Roma", "a street with parked cars", 43.4689, 11.8802, 300),
    ("Crowd at the station", "people at a train station", 43.4628, 11.8784, 250),
]


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
            for title, verify, lat, lon, radius_m in DEMO_BOUNTIES:
                if not agent.bounties.filter(title=title, status=BountyStatus.OPEN).exists():
                    now = timezone.now()
                    bounty_create(
                        agent=agent,
                        spec=BountySpec(
                            title=title, verify=verify, lat=lat, lon=lon, radius_m=radius_m,
                            starts_at=now, ends_at=now + timedelta(days=30), price_minor=400,
                            currency=agent.currency, quantity=5,
                            instructions="A demo bounty: any clear, fresh photo of the place.",
                        ),
                    )  # fmt: skip
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
                    f" available, {format_money(wallet.held_minor, wallet.currency)} held in "
                    f"{agent.bounties.filter(status=BountyStatus.OPEN).count()} open bounties",
                    f'  Try: curl -H "Authorization: Bearer {demo_key}" {site}/api/v1/me/',
                ]
            )
        )
