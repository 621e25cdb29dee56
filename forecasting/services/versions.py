"""Which model version serves: promotion, and an operator's rollback. Light (no model code), so
the admin can call it from a web process; the re-forecast it causes runs on the queue."""

import logging

from django.db import transaction
from django.utils import timezone

from forecasting import tasks
from forecasting.models import ModelVersion, ModelVersionStatus
from market.core.errors import ApplicationError

logger = logging.getLogger(__name__)


@transaction.atomic
def model_version_promote(*, version: ModelVersion, actor: str) -> ModelVersion:
    """Make ``version`` the champion (a promotion, or an operator's rollback to an earlier
    version): the current champion retires, and open questions are re-forecast."""
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.status == ModelVersionStatus.CHAMPION:
        return version
    if version.status == ModelVersionStatus.FAILED or not version.artifact_path:
        raise ApplicationError("not_promotable", "This version has no usable model", status=409)
    ModelVersion.objects.select_for_update().filter(status=ModelVersionStatus.CHAMPION).update(
        status=ModelVersionStatus.RETIRED
    )
    version.status, version.promoted_at = ModelVersionStatus.CHAMPION, timezone.now()
    version.save(update_fields=["status", "promoted_at"])
    logger.info("%s promoted %s", actor, version.name)
    transaction.on_commit(tasks.refresh_forecasts.delay)
    return version
