"""Run the vision server: the relevance model loaded once, micro-batching every verify worker
process's requests (see verification.serving). Workers use it when VISION_SERVER is set."""

import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from verification.model import RelevanceScorer, VisionModel
from verification.serving import VisionServer, server_key


def _stop(signum: int, frame: object) -> None:
    """SIGTERM (the process manager stopping the server): leave serve_forever, then close."""
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Serve the relevance model to the verify workers on VISION_SERVER (a Unix socket)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.VISION_SERVER or not settings.VISION_MODEL_DIR:
            raise CommandError("set VISION_SERVER (a socket path) and VISION_MODEL_DIR")
        model = VisionModel.from_directory(settings.VISION_MODEL_DIR)
        scorer = RelevanceScorer(
            model,
            max_batch_size=settings.VISION_MAX_BATCH,
            max_wait_s=settings.VISION_MAX_WAIT_MS / 1000,
        )
        server = VisionServer(
            scorer,
            settings.VISION_SERVER,
            server_key(settings.SECRET_KEY),
            request_timeout_s=settings.VISION_REQUEST_TIMEOUT_S,
        )

        signal.signal(signal.SIGTERM, _stop)
        self.stdout.write(
            f"Serving {settings.VISION_MODEL_DIR} on {settings.VISION_SERVER} "
            f"({model.device}, {model.dtype}; batches of up to {settings.VISION_MAX_BATCH})"
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
            scorer.close()
