"""Who did it, as event rows record it (the ``actor`` of bounty, submission, payout and model
version events): one spelling per kind of actor, so the history can be searched."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser


def operator_actor(user: AbstractBaseUser | AnonymousUser) -> str:
    """A staff member acting in the admin: ``operator:<email>`` (readable in the history; the
    email is the username)."""
    return f"operator:{user.get_username()}"
