"""A vision server: one process owns the relevance model (on the GPU where there is one) and
micro-batches requests from every verify worker process on the machine.

Why: a threads-pool worker batches only its own threads' jobs, inside one Python process, and
Celery cannot enforce time limits on threads. With a server, verify workers can be prefork
processes (time limits enforced, a crash costs one child), as many as the host has cores for
decoding and the other checks, while their forward passes still share batches on one device.

Each worker process preprocesses its photo itself (`Preprocessor`, from the same model
directory: the CPU work stays with the many workers) and sends the pixel values over a local
Unix socket (`multiprocessing.connection`, authenticated with a shared key); the server puts
each request through the same `RelevanceScorer` micro-batcher a local model uses, and answers
with the `RelevanceScore`. One connection per worker thread, one request at a time on it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from verification.model import Preprocessor, RelevanceRequest, RelevanceScore, RelevanceScorer

logger = logging.getLogger(__name__)


def server_key(secret: str) -> bytes:
    """The connection key both sides derive from the deployment's shared secret."""
    return hashlib.sha256(f"sightline-vision-server:{secret}".encode()).digest()


class VisionServerUnavailable(RuntimeError):
    """The vision server could not be reached, or did not answer in time."""


class VisionServer:
    """Serves `scorer` on the Unix socket `address` until `close()`."""

    def __init__(
        self,
        scorer: RelevanceScorer,
        address: str,
        authkey: bytes,
        *,
        request_timeout_s: float = 60.0,
    ) -> None:
        self.scorer = scorer
        self.address = address
        self.request_timeout_s = request_timeout_s
        # One server per socket (the process manager runs one): a file left by a server that
        # died is removed.
        Path(address).unlink(missing_ok=True)

        self._listener = Listener(address, family="AF_UNIX", authkey=authkey)
        self._closed = threading.Event()
        self._open: set[Connection] = set()  # the workers' connections, closed with the server
        self._open_lock = threading.Lock()
        self.requests = 0

    def serve_forever(self) -> None:
        logger.info("vision server listening on %s", self.address)
        while not self._closed.is_set():
            try:
                connection = self._listener.accept()
            except (AuthenticationError, EOFError, OSError) as exc:
                if self._closed.is_set():
                    return
                logger.warning("vision server: a connection was turned away (%r)", exc)
                continue
            if self._closed.is_set():
                connection.close()
                return

            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        # Wake an accept() waiting in serve_forever in another thread: it then sees the server
        # is closed. A bare connection: it never waits for an answer (nobody may be accepting).
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as wake:
            wake.connect(self.address)
        self._listener.close()
        with self._open_lock:
            for connection in self._open:
                # Shut the socket down (its reader thread then sees the end and closes it);
                # closing the Connection under a blocked recv() would break that thread.
                with (
                    contextlib.suppress(OSError),
                    socket.fromfd(connection.fileno(), socket.AF_UNIX, socket.SOCK_STREAM) as s,
                ):
                    s.shutdown(socket.SHUT_RDWR)

    def _serve(self, connection: Connection) -> None:
        with self._open_lock:
            self._open.add(connection)
        try:
            self._answer(connection)
        finally:
            with self._open_lock:
                self._open.discard(connection)

    def _answer(self, connection: Connection) -> None:
        with connection:
            while True:
                try:
                    message = connection.recv()
                except (EOFError, OSError):
                    return  # the worker went away
                try:
                    kind, pixels, text = message
                    if kind != "score":
                        raise ValueError(f"unknown request {kind!r}")
                    request = RelevanceRequest(None, str(text), torch.from_numpy(pixels))
                    score = self.scorer.batcher(request, timeout=self.request_timeout_s)
                    self.requests += 1
                    reply: tuple[Any, ...] = (
                        "ok",
                        score.probability,
                        score.embedding,
                        score.best_negative,
                        score.best_negative_probability,
                    )
                except Exception as exc:  # the worker gets the error; the server goes on
                    logger.exception("vision server: a request failed")
                    reply = ("error", f"{type(exc).__name__}: {exc}")
                try:
                    connection.send(reply)
                except OSError:
                    return


class RemoteScorer:
    """A `Scorer` for the pipeline that asks a `VisionServer`: preprocesses here, scores there."""

    def __init__(self, address: str, authkey: bytes, model_dir: str | Path) -> None:
        self.address = address
        self.authkey = authkey
        self.preprocessor = Preprocessor.from_directory(model_dir)
        # What Facts records as the embedding's model: the same name a local model gets.
        self.embedding_name = f"clip:{Path(model_dir).resolve().name}"
        self._local = threading.local()

    def score(self, image: Image.Image, text: str, timeout: float | None = 60.0) -> RelevanceScore:
        pixels = self.preprocessor.pixels([image]).numpy().astype(np.float32)
        reused = getattr(self._local, "connection", None) is not None
        try:
            reply = self._ask(("score", pixels, text), timeout)
        except VisionServerUnavailable as exc:
            if not (reused and isinstance(exc.__cause__, (OSError, EOFError))):
                raise
            # The server restarted since this connection was opened: once more, on a new one.
            reply = self._ask(("score", pixels, text), timeout)
        if reply[0] != "ok":
            raise RuntimeError(f"the vision server failed: {reply[1]}")
        _, probability, embedding, best_negative, best_negative_probability = reply
        return RelevanceScore(probability, embedding, best_negative, best_negative_probability)

    def _ask(self, message: tuple[Any, ...], timeout: float | None) -> Any:
        connection = self._connection()
        try:
            connection.send(message)
            if not connection.poll(timeout):
                raise VisionServerUnavailable(
                    f"the vision server at {self.address} did not answer within {timeout} s"
                )
            return connection.recv()
        except (OSError, EOFError, VisionServerUnavailable) as exc:
            self._drop()  # a late answer must not be read as the next request's
            if isinstance(exc, VisionServerUnavailable):
                raise
            raise VisionServerUnavailable(
                f"the vision server at {self.address} is unreachable: {exc}"
            ) from exc

    def _connection(self) -> Connection:

        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = Client(self.address, family="AF_UNIX", authkey=self.authkey)
            except (OSError, EOFError) as exc:
                raise VisionServerUnavailable(
                    f"the vision server at {self.address} is unreachable: {exc}"
                ) from exc
            self._local.connection = connection
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()


_remote: dict[tuple[int, str, str], RemoteScorer] = {}
_remote_lock = threading.Lock()


def get_remote_scorer(address: str, authkey: bytes, model_dir: str | Path) -> RemoteScorer:
    """The process's client of the server at `address` (the processor loaded once; a forked
    child makes its own, with its own connections)."""
    key = (os.getpid(), address, str(model_dir))
    with _remote_lock:
        scorer = _remote.get(key)
        if scorer is None:
            scorer = _remote[key] = RemoteScorer(address, authkey, model_dir)
        return scorer
