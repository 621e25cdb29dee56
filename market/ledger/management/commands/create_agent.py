from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from market.accounts.models import Scope
from market.accounts.services import agent_create, api_key_create, requester_get_or_create
from market.core.errors import ApplicationError
from market.core.money import format_money
from market.ledger.services import wallet_credit_test_funds


class Command(BaseCommand):
    help = (
        "Create an agent for a requester (created if needed), optionally credit test funds, "
        "and print its new API key once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--owner", required=True, help="the requester's email")
        parser.add_argument("--name", required=True, help="the agent's name")
        parser.add_argument("--test", action="store_true", help="test mode (sl_test_ keys)")
        parser.add_argument("--currency", default="usd")
        parser.add_argument(
            "--daily-cap",
            type=int,
            default=None,
            help="daily spending cap in minor units",
        )
        parser.add_argument(
            "--fund", type=int, default=0, help="credit this many minor units of test funds"
        )
        parser.add_argument(
            "--scopes",
            default=",".join(Scope.values),
            help=f"comma-separated scopes (default all: {','.join(Scope.values)})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        scopes = [scope.strip() for scope in options["scopes"].split(",") if scope.strip()]
        extra = {}
        if options["daily_cap"] is not None:
            extra["daily_spend_cap_minor"] = options["daily_cap"]
        try:
            with transaction.atomic():
                owner, created = requester_get_or_create(email=options["owner"])
                agent = agent_create(
                    owner=owner,
                    name=options["name"],
                    is_test=options["test"],
                    currency=options["currency"],
                    **extra,
                )
                api_key, full_key = api_key_create(agent=agent, name="cli", scopes=scopes)
                if options["fund"]:
                    wallet_credit_test_funds(
                        agent=agent,
                        amount_minor=options["fund"],
                        idempotency_key=f"create-agent-fund:{agent.pk}",
                    )
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        if created:
            self.stderr.write(f"Created requester {owner.email}")
        self.stderr.write(
            f"Created agent {agent.name} (id {agent.pk}, {'test' if agent.is_test else 'live'} "
            f"mode) with scopes {', '.join(api_key.scopes)}. The key is shown only this once:"
        )
        if options["fund"]:
            funds = format_money(options["fund"], agent.currency)
            self.stderr.write(f"Credited {funds} of test funds to its wallet.")
        self.stdout.write(full_key)
