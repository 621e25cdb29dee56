"""Scope checks: each API view says which scope each HTTP method needs."""

from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from market.accounts.models import APIKey


class AgentSuspended(exceptions.PermissionDenied):
    problem_code = "agent_suspended"


class InsufficientScope(exceptions.PermissionDenied):
    problem_code = "insufficient_scope"


class HasAPIKeyScope(permissions.BasePermission):
    """Allows an active agent whose key holds the scope the view names for the method.

    Views declare ``required_scopes = {"GET": Scope.WALLET_READ, ...}``; a method a view does not
    list is refused, so forgetting a scope fails closed. ``required_scopes = {}`` on a view means
    "any valid key".
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        api_key = request.auth
        if not isinstance(api_key, APIKey):
            raise exceptions.NotAuthenticated("Send an API key: 'Authorization: Bearer sl_...'.")
        if not api_key.agent.is_active:
            raise AgentSuspended("This agent is suspended; its owner can reactivate it.")
        required: dict[str, str] | None = getattr(view, "required_scopes", None)
        if required is None:
            raise InsufficientScope("This endpoint declares no scope.")
        if not required:
            return True
        scope = required.get(request.method or "")
        if scope is None and request.method in ("HEAD", "OPTIONS"):
            scope = required.get("GET")
        if scope is None:
            raise InsufficientScope(f"{request.method} is not allowed with an API key here.")
        if not api_key.has_scope(scope):
            raise InsufficientScope(f"This key lacks the scope '{scope!s}'.")

        return True
