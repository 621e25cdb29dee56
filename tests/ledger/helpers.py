"""Checks of the books used by several ledger tests."""

from django.db.models import Sum

from market.ledger.models import Entry, LedgerAccount, Transaction


def assert_books_are_right() -> None:
    """Every transaction sums to zero per currency, no protected balance is negative, money is
    conserved (all balances sum to zero per currency), cached balances equal their entries."""
    unbalanced = (
        Entry.objects.values("transaction_id", "currency")
        .annotate(total=Sum("amount_minor"))
        .exclude(total=0)
    )
    assert not unbalanced.exists(), list(unbalanced)
    assert not Transaction.objects.filter(entries__isnull=True).exists()
    assert not LedgerAccount.objects.filter(protected=True, balance_minor__lt=0).exists()
    totals = LedgerAccount.objects.values("currency").annotate(total=Sum("balance_minor"))
    assert all(row["total"] == 0 for row in totals), list(totals)
    for account in LedgerAccount.objects.all():
        from_entries = account.entries.aggregate(total=Sum("amount_minor"))["total"] or 0
        assert account.balance_minor == from_entries, account
        last = account.entries.order_by("-id").first()
        assert (last.balance_after_minor if last else 0) == account.balance_minor
