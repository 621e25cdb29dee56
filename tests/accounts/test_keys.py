import logging

from hypothesis import given
from hypothesis import strategies as st

from market.accounts import keys
from market.accounts.logging import RedactAPIKeysFilter


def test_it_generates_live_and_test_keys_that_parse_back() -> None:
    prefix, live = keys.generate(is_test=False)
    assert live.startswith(f"sl_{prefix}_")
    assert keys.parse(live) == keys.ParsedKey(prefix=prefix, is_test=False)

    prefix, test = keys.generate(is_test=True)
    assert test.startswith(f"sl_test_{prefix}_")
    assert keys.parse(test) == keys.ParsedKey(prefix=prefix, is_test=True)


def test_it_never_generates_the_same_key_twice() -> None:
    assert len({keys.generate(is_test=False)[1] for _ in range(200)}) == 200


@given(position=st.integers(min_value=0), replacement=st.sampled_from(keys.ALPHABET))
def test_the_checksum_catches_any_single_character_typo(position: int, replacement: str) -> None:
    _, key = keys.generate(is_test=False)
    start = len("sl_")
    index = start + position % (len(key) - start)
    if key[index] in ("_", replacement):
        return
    typo = key[:index] + replacement + key[index + 1 :]
    assert keys.parse(typo) is None


def test_it_rejects_malformed_keys() -> None:
    _, key = keys.generate(is_test=False)
    for bad in [
        "",
        "sl_",
        key[:-1],
        key + "x",
        "Bearer " + key,
        key.replace("sl_", "sk_"),
        " " + key,
    ]:
        assert keys.parse(bad) is None


def test_redaction_keeps_the_prefix_and_drops_the_secret() -> None:
    prefix, key = keys.generate(is_test=True)
    text = keys.redact(f"failed auth with {key} from 10.0.0.1")
    assert key not in text
    assert f"sl_test_{prefix}_[REDACTED]" in text


def test_the_log_filter_redacts_keys_in_messages_and_arguments() -> None:
    _, key = keys.generate(is_test=False)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "header was %s", (key,), None)
    assert RedactAPIKeysFilter().filter(record)
    assert key not in record.getMessage()
    assert "[REDACTED]" in record.getMessage()
