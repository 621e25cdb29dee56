"""The operators' money dashboard in the admin (staff only: wrapped by ``admin_view``)."""

import io
from datetime import date

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from market.core.money import minor_unit_exponent
from market.payments import selectors

CHART_DAYS = 30


def dashboard(request: HttpRequest) -> HttpResponse:
    """Payout volume (chart), escrow outstanding, platform revenue, payouts needing
    attention."""
    context = {
        **admin.site.each_context(request),
        "title": "Money dashboard",
        "chart_days": CHART_DAYS,
        "escrow": selectors.escrow_outstanding(),
        "revenue": selectors.platform_revenue(),
        "attention": selectors.payouts_needing_attention()[:50],
    }
    return TemplateResponse(request, "admin/dashboard.html", context)


def payout_chart(request: HttpRequest) -> HttpResponse:
    """Paid-out volume per day for the last 30 days, as a PNG."""
    png = payout_volume_png(selectors.payout_volume_by_day(days=CHART_DAYS))
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=60"
    return response


def payout_volume_png(volume: dict[str, list[tuple[date, int]]]) -> bytes:
    """One line per currency, in major units on the axis (the sums stay integers until drawn).
    Agg on a bare Figure: no pyplot global state, safe in a threaded server."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    figure = Figure(figsize=(8, 3), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for currency, days in volume.items():
        divisor = 10 ** minor_unit_exponent(currency)
        axes.plot(
            date2num([day for day, _ in days]),
            [total_minor / divisor for _, total_minor in days],  # pixels, not money
            marker="o",
            label=currency.upper(),
        )
    if volume:
        axes.legend(loc="upper left")
    else:
        axes.text(0.5, 0.5, "No payouts paid yet", ha="center", va="center")
    axes.set_title("Payouts paid per day")
    axes.set_ylabel("amount (major units)")
    axes.xaxis.set_major_formatter(DateFormatter("%b %d"))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axes.grid(alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
