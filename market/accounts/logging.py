"""Keep API keys out of logs and error reports."""

import logging
import re

from django.views.debug import SafeExceptionReporterFilter

from market.accounts.keys import redact


class RedactAPIKeysFilter(logging.Filter):
    """Replaces the secret of any API key in a log record's message (and its arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class SafeReporterFilter(SafeExceptionReporterFilter):
    """Django's error reports also hide the Authorization header."""

    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|AUTHORIZATION",
        flags=re.IGNORECASE,
    )
