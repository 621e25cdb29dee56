"""Formatting for the website: money in minor units, distances, time left."""

from datetime import datetime, timedelta

from django import forms, template
from django.utils import timezone

from bounties.models import Submission, SubmissionStatus
from market.core.money import format_money

register = template.Library()


@register.filter
def money(amount_minor: int | None, currency: str) -> str:
    return format_money(amount_minor or 0, currency)


@register.filter
def distance(metres: float | None) -> str:
    if metres is None:
        return ""
    if metres < 1000:
        return f"{metres:.0f} m"
    return f"{metres / 1000:.1f} km"


@register.filter
def time_left(until: datetime | None) -> str:
    """ "2 h 05 min left", "12 min left", "ended"."""
    if until is None:
        return ""
    seconds = int((until - timezone.now()).total_seconds())
    if seconds <= 0:
        return "ended"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h left"
    if hours:
        return f"{hours} h {minutes:02d} min left"
    return f"{max(1, minutes)} min left"


@register.filter
def percent(ratio: float | None) -> str:
    return "none yet" if ratio is None else f"{ratio * 100:.0f}%"


@register.filter
def is_verifying(submission: Submission) -> bool:
    """Still being checked: the page keeps asking for news."""
    return submission.status in (SubmissionStatus.RECEIVED, SubmissionStatus.VERIFYING)


@register.filter
def can_appeal(submission: Submission) -> bool:
    return submission.status == SubmissionStatus.REJECTED and submission.appealed_at is None


@register.filter
def general_errors(form: forms.BaseForm) -> list[str]:
    """Errors not shown beside a visible field: the form's own and its hidden fields'."""
    hidden = [str(error) for field in form.hidden_fields() for error in field.errors]
    return [str(error) for error in form.non_field_errors()] + hidden


@register.filter
def minutes(duration: timedelta) -> str:
    """timedelta(minutes=30) -> "30 minutes"."""
    total = int(duration.total_seconds() // 60)
    return f"{total} minute{'s' if total != 1 else ''}"
