from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.signals import setting_changed

from verification.image import UploadBounds, configure_uploads

_UPLOAD_SETTINGS = {"MAX_UPLOAD_BYTES", "MAX_CONCURRENT_DECODES"}


def _configure_verification() -> None:
    configure_uploads(
        UploadBounds(
            max_bytes=settings.MAX_UPLOAD_BYTES,
            max_concurrent_decodes=settings.MAX_CONCURRENT_DECODES,
        )
    )


def _upload_setting_changed(*, setting: str, **_: Any) -> None:
    if setting in _UPLOAD_SETTINGS:
        _configure_verification()


class BountiesConfig(AppConfig):
    name = "bounties"
    verbose_name = "Bounties"

    def ready(self) -> None:
        # `verification` is a library without Django: this process's upload bounds come from
        # the settings, here (and again whenever a test overrides them).
        _configure_verification()
        setting_changed.connect(_upload_setting_changed)
