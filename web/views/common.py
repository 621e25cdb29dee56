"""Who may see what, shared by the views."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from market.accounts.models import Role, User


def signed_in_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # behind login_required
    return user


def worker_of(request: HttpRequest) -> User:
    user = signed_in_user(request)
    if user.role != Role.WORKER:
        raise PermissionDenied("These pages are for workers.")
    return user


def requester_of(request: HttpRequest) -> User:
    user = signed_in_user(request)
    if user.role != Role.REQUESTER:
        raise PermissionDenied("These pages are for requesters.")
    return user


def viewer_or_none(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) else None
