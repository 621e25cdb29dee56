"""The operators' admin: payouts list with totals, actions, read-only records, the dashboard."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from market.accounts.models import User
from market.payments.models import Payout, PayoutStatus, ReconciliationReport, StripeEvent
from market.payments.services import payout_request
from tests.factories import UserFactory
from tests.payments.fakes import FakeStripe

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting_payout(connected_worker: User, earn, stripe_off: FakeStripe) -> Payout:
    earn(connected_worker, 12_345)
    payout = payout_request(worker=connected_worker)
    Payout.objects.filter(pk=payout.pk).update(waiting_reason="Stripe is not configured")
    payout.refresh_from_db()
    return payout


@pytest.fixture
def paid_payout(earn) -> Payout:
    worker = UserFactory()
    earn(worker, 2_000)
    payout = payout_request(worker=worker)
    Payout.objects.filter(pk=payout.pk).update(
        status=PayoutStatus.PAID, stripe_transfer_id="tr_paid", paid_at=timezone.now()
    )
    return payout


def test_the_payouts_list_shows_amounts_reasons_and_totals(
    operator_client: Client, waiting_payout: Payout, paid_payout: Payout
) -> None:
    page = operator_client.get("/admin/payments/payout/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "123.45 USD" in html and "Stripe is not configured" in html
    totals = page.context["payout_totals"]
    assert [(t.label, t.count, t.amount) for t in totals] == [
        ("Pending", 1, "123.45 USD"),
        ("Paid", 1, "20.00 USD"),
    ]
    assert "Totals of the selected payouts" in html

    filtered = operator_client.get("/admin/payments/payout/?status__exact=paid")
    assert [t.label for t in filtered.context["payout_totals"]] == ["Paid"]
    assert operator_client.get("/admin/payments/payout/?on_hold__exact=1").status_code == 200
    detail = operator_client.get(f"/admin/payments/payout/{waiting_payout.pk}/change/")
    assert detail.status_code == 200 and "pending" in detail.content.decode()


def test_hold_release_and_retry_actions_go_through_services_and_leave_history(
    operator_client: Client, waiting_payout: Payout, django_capture_on_commit_callbacks
) -> None:
    def act(action: str) -> None:
        response = operator_client.post(
            "/admin/payments/payout/",
            {"action": action, "_selected_action": [waiting_payout.pk]},
            follow=True,
        )
        assert response.status_code == 200

    act("hold")
    waiting_payout.refresh_from_db()
    assert waiting_payout.on_hold
    act("retry")  # refused while held, with a message
    with django_capture_on_commit_callbacks(execute=True):
        act("release")
        act("retry")
    waiting_payout.refresh_from_db()
    assert not waiting_payout.on_hold
    events = list(waiting_payout.events.values_list("actor", "reason"))
    operator = f"operator:{User.objects.get(is_staff=True).email}"
    assert (operator, "hold: held by an operator") in events
    assert (operator, "hold released") in events
    assert (operator, "retry requested") in events


def test_records_are_read_only_for_operators(
    operator_client: Client, waiting_payout: Payout
) -> None:
    StripeEvent.objects.create(
        stripe_id="evt_1",
        type="payout.paid",
        livemode=False,
        payload={},
        processed_at=timezone.now(),
    )
    ReconciliationReport.objects.create(
        period_start=timezone.now() - timedelta(days=1), period_end=timezone.now()
    )
    for path in (
        "stripeevent",
        "checkoutsession",
        "connectedaccount",
        "reconciliationreport",
    ):
        page = operator_client.get(f"/admin/payments/{path}/")
        assert page.status_code == 200, path
        assert operator_client.get(f"/admin/payments/{path}/add/").status_code == 403, path


def test_the_dashboard_shows_the_money_and_what_needs_attention(
    operator_client: Client, waiting_payout: Payout, paid_payout: Payout, payer
) -> None:
    page = operator_client.get("/admin/dashboard/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Escrow outstanding" in html and "Platform revenue" in html
    assert f"#{waiting_payout.pk}" in html and "Stripe is not configured" in html
    assert f"#{paid_payout.pk}</a>" not in html

    chart = operator_client.get("/admin/dashboard/payouts.png")
    assert chart.status_code == 200 and chart["Content-Type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_the_dashboard_chart_renders_with_no_payouts(operator_client: Client) -> None:
    chart = operator_client.get("/admin/dashboard/payouts.png")
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "path", ["/admin/payments/payout/", "/admin/dashboard/", "/admin/dashboard/payouts.png"]
)
def test_non_staff_are_refused(path: str, worker: User) -> None:
    client = Client()
    client.force_login(worker)
    response = client.get(path)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    anonymous = Client().get(path)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
