"""Sightline: the Django project, and the money (accounts, ledger, payments)."""

from market.celery import app as celery_app

__all__ = ("celery_app",)
