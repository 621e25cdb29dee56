"""The vision server: one process holds the model and batches requests from many workers'
connections; the workers preprocess and send pixels over a Unix socket."""

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.verification.conftest import photo_bytes
from verification.image import load_image
from verification.model import RelevanceScorer, VisionModel
from verification.serving import (
    RemoteScorer,
    VisionServer,
    VisionServerUnavailable,
    server_key,
)

KEY = server_key("test secret")
TEXT = "a photo of the street outside the store"


@pytest.fixture
def socket_path() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="sl-") as directory:  # Unix socket paths are short
        yield str(Path(directory) / "vision.sock")


@pytest.fixture
def server(tiny_clip_dir: Path, socket_path: str) -> Iterator[VisionServer]:
    scorer = RelevanceScorer(
        VisionModel.from_directory(tiny_clip_dir), max_batch_size=8, max_wait_s=0.5
    )
    server = VisionServer(scorer, socket_path, KEY)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.close()
    scorer.close()
    thread.join(timeout=5)


def test_requests_from_separate_workers_share_a_forward_pass_and_score_as_locally(
    server: VisionServer, tiny_clip_dir: Path, tiny_model: VisionModel
) -> None:
    photos = [load_image(photo_bytes(n)).image for n in ("DSCN0010.jpg", "DSCN0012.jpg")]
    # Two clients with their own connections, as two prefork worker processes would have.
    clients = [RemoteScorer(server.address, KEY, tiny_clip_dir) for _ in photos]
    remote: dict[int, object] = {}

    def ask(number: int) -> None:
        remote[number] = clients[number].score(photos[number], TEXT)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(len(photos))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert list(server.scorer.batcher.batch_sizes) == [2]  # one forward pass for both
    local = RelevanceScorer(tiny_model, max_batch_size=1, max_wait_s=0)
    for number, photo in enumerate(photos):
        alone = local.score(photo, TEXT)
        got = remote[number]
        assert got.probability == pytest.approx(alone.probability, abs=1e-5)  # type: ignore[attr-defined]
        assert got.embedding == pytest.approx(alone.embedding, abs=1e-5)  # type: ignore[attr-defined]
        assert got.best_negative == alone.best_negative  # type: ignore[attr-defined]
    local.close()
    assert clients[0].embedding_name == f"clip:{tiny_clip_dir.name}"
    # A client's connection is reused for its next request.
    clients[0].score(photos[1], TEXT)
    assert server.requests == 3


def test_a_missing_or_wrongly_keyed_server_is_a_clear_error(
    server: VisionServer, tiny_clip_dir: Path, socket_path: str
) -> None:
    photo = load_image(photo_bytes("DSCN0010.jpg")).image
    nowhere = RemoteScorer(socket_path + ".missing", KEY, tiny_clip_dir)
    with pytest.raises(VisionServerUnavailable, match="unreachable"):
        nowhere.score(photo, TEXT)
    impostor = RemoteScorer(server.address, server_key("another secret"), tiny_clip_dir)
    with pytest.raises(Exception, match=r"digest|authentication|unreachable"):
        impostor.score(photo, TEXT)


def test_a_slow_server_times_out_and_the_next_request_gets_its_own_answer(
    server: VisionServer, tiny_clip_dir: Path, tiny_model: VisionModel
) -> None:
    photo = load_image(photo_bytes("DSCN0010.jpg")).image
    client = RemoteScorer(server.address, KEY, tiny_clip_dir)
    server.scorer.batcher.max_wait_s = 1.0  # a lone request waits a second for company
    with pytest.raises(VisionServerUnavailable, match="did not answer"):
        client.score(photo, TEXT, timeout=0.1)
    server.scorer.batcher.max_wait_s = 0.0
    other = load_image(photo_bytes("DSCN0012.jpg")).image
    answer = client.score(other, "a shop")
    local = RelevanceScorer(tiny_model, max_batch_size=1, max_wait_s=0)
    # Its own answer, not the late one about `photo` (their embeddings differ).
    assert answer.embedding == pytest.approx(local.score(other, "a shop").embedding, abs=1e-5)
    assert answer.embedding != pytest.approx(local.score(photo, TEXT).embedding, abs=1e-3)
    local.close()


def test_the_server_command_needs_a_socket_and_a_model(settings) -> None:
    settings.VISION_SERVER, settings.VISION_MODEL_DIR = "", "/models/clip"
    with pytest.raises(CommandError, match="VISION_SERVER"):
        call_command("serve_vision")


def test_a_client_reconnects_once_when_the_server_restarted(
    server: VisionServer, tiny_clip_dir: Path
) -> None:
    photo = load_image(photo_bytes("DSCN0010.jpg")).image
    client = RemoteScorer(server.address, KEY, tiny_clip_dir)
    before = client.score(photo, TEXT)
    server.close()  # the server restarts: the client's connection is now dead
    again = VisionServer(server.scorer, server.address, KEY)
    thread = threading.Thread(target=again.serve_forever, daemon=True)
    thread.start()
    try:
        after = client.score(photo, TEXT)
        assert after.embedding == pytest.approx(before.embedding, abs=1e-5)
        assert again.requests == 1
    finally:
        again.close()
        thread.join(timeout=5)
