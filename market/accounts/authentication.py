"""Bearer API key authentication for agents: ``Authorization: Bearer sl_...``."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from market.accounts.models import Agent, APIKey
from market.accounts.selectors import api_key_for
from market.accounts.services import api_key_record_use


class InvalidAPIKey(exceptions.AuthenticationFailed):
    problem_code = "invalid_api_key"


class RevokedAPIKey(exceptions.AuthenticationFailed):
    problem_code = "revoked_api_key"


class APIKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates the agent behind a key. A missing header leaves the request anonymous."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Agent, APIKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not credential.strip():
            raise InvalidAPIKey("Send the key as 'Authorization: Bearer sl_...'.")
        api_key = api_key_for(credential.strip())
        if api_key is None:
            raise InvalidAPIKey("The API key is not valid.")
        if api_key.is_revoked:
            raise RevokedAPIKey("The API key has been revoked.")
        api_key_record_use(api_key=api_key)
        return api_key.agent, api_key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "market.accounts.authentication.APIKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "sl_<prefix>_<secret>",
            "description": "An agent's API key, shown once when it is created.",
        }


def request_agent(request: Request) -> Agent:
    """The agent a request authenticated as (views behind HasAPIKeyScope only)."""
    agent = request.user
    if not isinstance(agent, Agent):
        raise exceptions.NotAuthenticated("Send an API key: 'Authorization: Bearer sl_...'.")
    return agent
