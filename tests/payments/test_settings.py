"""Production refuses to start without its Stripe keys."""

from tests.helpers import PRODUCTION_ENV, manage


def test_production_refuses_to_start_without_stripe_keys() -> None:
    for missing in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
        env = {name: value for name, value in PRODUCTION_ENV.items() if name != missing}
        result = manage("check", env=env)
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr and missing in result.stderr


def test_a_bad_payout_minimum_is_refused_with_its_name() -> None:
    result = manage("check", env={"PAYOUT_MINIMUM_MINOR": "ten"})
    assert result.returncode != 0 and "PAYOUT_MINIMUM_MINOR" in result.stderr
