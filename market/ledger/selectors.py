"""Reads of the ledger: wallets, balances, an account's statement."""

from dataclasses import dataclass

from django.db.models import QuerySet, Sum

from market.accounts.models import Agent
from market.ledger.models import AccountKind, Entry, LedgerAccount
from market.ledger.services import agent_owner, spend_today_minor


@dataclass(frozen=True)
class WalletSummary:
    currency: str
    available_minor: int
    held_minor: int
    daily_cap_minor: int
    used_today_minor: int

    @property
    def balance_minor(self) -> int:
        return self.available_minor + self.held_minor

    @property
    def cap_left_today_minor(self) -> int:
        return max(0, self.daily_cap_minor - self.used_today_minor)


def wallet_summary(agent: Agent) -> WalletSummary:
    """What the agent can spend now, what is held in its bounties' escrow, and its daily cap."""
    owner = agent_owner(agent)
    wallet = LedgerAccount.objects.filter(
        kind=AccountKind.AGENT_WALLET, currency=agent.currency, owner=owner
    ).first()
    held = LedgerAccount.objects.filter(
        kind=AccountKind.BOUNTY_ESCROW, currency=agent.currency, owner__startswith=f"{owner}:"
    ).aggregate(total=Sum("balance_minor"))["total"]
    return WalletSummary(
        currency=agent.currency,
        available_minor=wallet.balance_minor if wallet else 0,
        held_minor=held or 0,
        daily_cap_minor=agent.daily_spend_cap_minor,
        used_today_minor=spend_today_minor(agent),
    )


def wallet_entries(agent: Agent) -> QuerySet[Entry]:
    """The agent's wallet statement: each entry with its transaction and the balance after it."""
    return Entry.objects.filter(
        account__kind=AccountKind.AGENT_WALLET, account__owner=agent_owner(agent)
    ).select_related("transaction")


def entries_sum_minor(account: LedgerAccount) -> int:
    """The balance recomputed from entries (for checks against the cached balance)."""
    return account.entries.aggregate(total=Sum("amount_minor"))["total"] or 0
