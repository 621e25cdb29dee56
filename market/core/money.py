"""Money for people: integer minor units to a display string, the one formatter (website, admin,
emails, API messages, management commands). No floats anywhere.

Our minor unit is Stripe's (amounts cross the boundary unconverted), so the exponent of each
currency is Stripe's, which differs from ISO 4217 / CLDR for a few (ISK and HUF are two-decimal
in Stripe's API, zero-decimal in CLDR). Babel renders the number for the locale.
"""

from decimal import Decimal

from babel.numbers import format_currency

# https://docs.stripe.com/currencies#zero-decimal and #three-decimal; every other is 2.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv"}
    | {"xaf", "xof", "xpf"}
)
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
# The website speaks English; amounts read "1,234.56 USD": the ISO code says which dollar.
LOCALE = "en"


def minor_unit_exponent(currency: str) -> int:
    """Digits after the decimal point in ``currency``'s minor unit, as Stripe counts them."""
    code = currency.lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def major_units(amount_minor: int, currency: str) -> Decimal:
    """``12345, "usd"`` -> ``Decimal("123.45")``: exact, for arithmetic and display."""
    return Decimal(amount_minor).scaleb(-minor_unit_exponent(currency))


def format_money(amount_minor: int, currency: str) -> str:
    """``format_money(-123456, "usd") == "-1,234.56 USD"``; ``format_money(500, "jpy") ==
    "500 JPY"``: the amount in major units with the currency's own digits, then its code."""
    digits = minor_unit_exponent(currency)
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + " ¤¤"
    return format_currency(
        major_units(amount_minor, currency),
        currency.upper(),
        format=pattern,
        locale=LOCALE,
        currency_digits=False,
    )
