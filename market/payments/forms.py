from decimal import Decimal

from django import forms

from market.payments.services.checkout import CHECKOUT_MAXIMUM_MINOR, CHECKOUT_MINIMUM_MINOR

CENTS = Decimal(100)


class AddFundsForm(forms.Form):
    """An amount in major units ("25.00"), turned into integer minor units without a float."""

    amount = forms.DecimalField(
        max_digits=9,
        decimal_places=2,
        min_value=Decimal(CHECKOUT_MINIMUM_MINOR) / CENTS,
        max_value=Decimal(CHECKOUT_MAXIMUM_MINOR) / CENTS,
        label="Amount",
    )

    def amount_minor(self) -> int:
        return int(self.cleaned_data["amount"] * CENTS)
