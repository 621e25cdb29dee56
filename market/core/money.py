"""Money for people: integer minor units to a display string. No floats anywhere."""

# Digits after the decimal point, per ISO 4217; most currencies have 2.
MINOR_UNIT_DIGITS = {"jpy": 0, "krw": 0, "vnd": 0, "clp": 0, "isk": 0, "kwd": 3, "bhd": 3}
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}


def format_money(amount_minor: int, currency: str) -> str:
    """``format_money(-123456, "usd") == "-$1,234.56"``."""
    currency = currency.lower()
    digits = MINOR_UNIT_DIGITS.get(currency, 2)
    sign = "-" if amount_minor < 0 else ""
    whole, fraction = divmod(abs(amount_minor), 10**digits)
    number = f"{whole:,}" + (f".{fraction:0{digits}d}" if digits else "")
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency.upper()}"
