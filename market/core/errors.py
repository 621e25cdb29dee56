"""The one application error that business rules raise.

Services raise ``ApplicationError``; the API renders it as RFC 9457 problem+json (see
``market.core.problems``) and the website shows its message next to the field it names.
"""

from typing import Any


class ApplicationError(Exception):
    """A business rule refused the request. ``code`` is stable and machine-readable."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra or {}


def field_error(field: str, message: str) -> ApplicationError:
    """A validation failure on one field, shaped like the serializers' (``errors``)."""
    return ApplicationError(
        "validation_error",
        f"The request has invalid fields: {field}.",
        extra={"errors": {field: [message]}},
    )
