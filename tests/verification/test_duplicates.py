import io
import random
from collections import Counter
from dataclasses import replace

import pytest
from PIL import Image, ImageOps

from tests.verification.conftest import photo_bytes
from tests.verification.corpus import (
    COPY_KINDS,
    EVASION_KINDS,
    PHOTOS,
    distinct_images,
    jpeg_roundtrip,
    reencoded,
)
from verification.checks import Status
from verification.checks.duplicates import (
    DuplicateRules,
    Fingerprint,
    MemoryDuplicateIndex,
    band_probes,
    band_values,
    check_duplicates,
    fingerprint,
    image_fingerprint,
    trim_borders,
    working_luma,
)
from verification.fingerprints import DatabaseDuplicateIndex
from verification.image import load_image
from verification.models import PhotoFingerprint

RULES = DuplicateRules()


def fp_of(data: bytes) -> Fingerprint:
    return fingerprint(data, load_image(data).image)


def flat(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_it_catches_the_same_file_twice():
    index = MemoryDuplicateIndex()
    data = photo_bytes("DSCN0010.jpg")
    assert check_duplicates(fp_of(data), index).status is Status.PASSED
    index.add("submission:1", fp_of(data), RULES)
    result = check_duplicates(fp_of(data), index)
    assert result.status is Status.FAILED
    assert result.reason == "This exact photo file has been submitted before."
    assert result.details["matches"][0] == {
        "reference": "submission:1",
        "distance": 0,
        "confirm_distance": 0,
        "similarity": None,
        "exact": True,
    }


def test_it_catches_a_resized_reencoded_copy_but_not_a_nearby_shot():
    index = MemoryDuplicateIndex()
    original = photo_bytes("DSCN0010.jpg")
    index.add("submission:1", fp_of(original), RULES)
    copy = check_duplicates(fp_of(reencoded(original)), index)
    assert copy.status is Status.FAILED
    assert copy.details["matches"][0]["exact"] is False
    assert copy.details["matches"][0]["reference"] == "submission:1"
    # DSCN0012: same camera, same street, 35 m away, a minute later: a different photo.
    assert check_duplicates(fp_of(photo_bytes("DSCN0012.jpg")), index).passed


def test_it_ignores_its_own_reference_on_a_retry():
    index = MemoryDuplicateIndex()
    fp = fp_of(photo_bytes("DSCN0010.jpg"))
    index.add("submission:1", fp, RULES)
    assert check_duplicates(fp, index, reference="submission:1").passed


def test_plain_images_are_only_matched_exactly():
    index = MemoryDuplicateIndex()
    blue, other_blue = flat((40, 90, 200)), flat((42, 91, 198))
    blue_fp, other_fp = fp_of(blue), fp_of(other_blue)
    assert blue_fp.quality < RULES.min_quality
    assert blue_fp.phash == other_fp.phash  # flat images collide
    index.add("submission:1", blue_fp, RULES)
    result = check_duplicates(other_fp, index)
    assert result.status is Status.PASSED
    assert result.details["near_duplicate_checked"] is False
    assert check_duplicates(blue_fp, index).status is Status.FAILED  # the exact file still is


@pytest.mark.parametrize("radius", [1, 2])
def test_multi_index_hashing_finds_exactly_what_a_scan_finds(radius):
    """Radius 2 (10 // 4 bands) is exact; the default radius 1 finds exactly the hashes within
    the distance that also have a band within a bit, whether or not they were merged yet."""
    rng = random.Random(3)
    rules = DuplicateRules(
        max_distance=10, max_confirm_distance=64, min_quality=0, probe_radius=radius
    )
    index = MemoryDuplicateIndex(merge_every=1000)
    stored = []
    for number in range(3000):
        base = rng.getrandbits(64)
        fp = Fingerprint(f"{number:064x}", base, 0, 100)
        stored.append(fp)
        index.add(str(number), fp, rules)
    for _ in range(300):
        probe_base = rng.choice(stored).phash
        for bit in rng.sample(range(64), rng.randint(0, 14)):
            probe_base ^= 1 << bit
        query = Fingerprint("none", probe_base, 0, 100)
        expected = {
            str(n)
            for n, fp in enumerate(stored)
            if (fp.phash ^ probe_base).bit_count() <= 10
            and min(band.bit_count() for band in band_values(fp.phash ^ probe_base)) <= radius
        }
        assert {m.reference for m in index.find(query, rules)} == expected


def test_band_probes_cover_the_radius():
    probes = band_probes(0b1010, width=16, radius=2)
    assert len(probes) == 1 + 16 + 120
    assert len(set(probes)) == len(probes)
    assert all((p ^ 0b1010).bit_count() <= 2 for p in probes)


@pytest.mark.django_db
def test_the_database_index_agrees_with_the_memory_index():
    database, memory = DatabaseDuplicateIndex(), MemoryDuplicateIndex()
    photos = ["DSCN0010.jpg", "DSCN0012.jpg", "DSCN0021.jpg", "landscape_6.jpg"]
    for number, name in enumerate(photos):
        fp = fp_of(photo_bytes(name))
        database.add(f"submission:{number}", fp, RULES)
        memory.add(f"submission:{number}", fp, RULES)
    database.add("submission:flat", fp_of(flat((10, 10, 10))), RULES)
    row = PhotoFingerprint.objects.get(reference="submission:0", view=0)
    assert Fingerprint.unsigned(row.phash) == fp_of(photo_bytes("DSCN0010.jpg")).phash
    assert PhotoFingerprint.objects.get(reference="submission:flat").band0 is None
    queries = [
        photo_bytes("DSCN0010.jpg"),
        reencoded(photo_bytes("DSCN0012.jpg")),
        reencoded(photo_bytes("landscape_6.jpg"), scale=0.9),
        photo_bytes("Canon_40D.jpg"),
        flat((10, 10, 10)),
    ]
    for data in queries:
        fp = fp_of(data)
        assert database.find(fp, RULES) == memory.find(fp, RULES) or fp.quality < RULES.min_quality
    assert [m.reference for m in database.find(fp_of(flat((10, 10, 10))), RULES)] == [
        "submission:flat"
    ]
    assert database.find(fp_of(queries[1]), RULES)[0].reference == "submission:1"


def test_the_spectrum_turns_down_hash_collisions_and_old_rows_still_match():
    fp = fp_of(photo_bytes("DSCN0010.jpg"))
    other = fp_of(photo_bytes("DSCN0021.jpg"))
    assert RULES.near_match(fp, fp.phash, fp.dhash, fp.spectrum) is not None
    # Same hashes, another picture's spectrum: a 64-bit collision, not a copy.
    assert RULES.near_match(fp, fp.phash, fp.dhash, other.spectrum) is None
    # A row stored before spectra existed is confirmed by the two hashes alone.
    match = RULES.near_match(fp, fp.phash, fp.dhash, b"")
    assert match is not None and match.similarity is None
    index = MemoryDuplicateIndex()
    index.add("old", Fingerprint(fp.sha256 + "x", fp.phash, fp.dhash, fp.quality), RULES)
    index.add("collision", replace(other, phash=fp.phash, dhash=fp.dhash), RULES)
    assert [m.reference for m in index.find(replace(fp, sha256="q"), RULES)] == ["old"]


def test_it_catches_copies_and_avoids_false_matches_on_a_1k_corpus():
    """The bench measures this on 10k photos; this keeps a fast guard on the rates.

    Every copy counts, including those of photos too plain to compare (quality < min_quality),
    which are only caught byte for byte. Copies of generated scenes meet the 95% goal; copies
    of real-photo tiles (a third of this corpus: skies, walls, low-texture crops) do not yet
    (about 81% on the bench), and the floor below only guards that level against regressions.
    """
    images = distinct_images(1000, seed=11)
    tiles = len(images) // 3  # distinct_images puts the real-photo tiles first
    fingerprints = [image_fingerprint(image, sha256=str(n)) for n, image in enumerate(images)]
    index = MemoryDuplicateIndex()
    false_matches = 0
    for number, fp in enumerate(fingerprints):
        false_matches += bool(index.find(fp, RULES))
        index.add(str(number), fp, RULES)
    rng = random.Random(5)
    caught: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for number in rng.sample(range(len(images)), 150):
        source = "tile" if number < tiles else "scene"
        for make_copy in COPY_KINDS.values():
            copy = image_fingerprint(make_copy(images[number], rng), sha256="copy")
            total[source] += 1
            caught[source] += any(m.reference == str(number) for m in index.find(copy, RULES))
    assert false_matches / len(images) <= 0.001
    assert caught["scene"] / total["scene"] >= 0.95
    assert caught["tile"] / total["tile"] >= 0.75


def test_a_big_phone_photo_hashes_alike_at_the_reduced_scale_and_its_copies_are_caught():
    original = photo_bytes("HMD_Nokia_8.3_5G.jpg")
    full = fp_of(original)  # decoded in full, as fingerprints stored before reduced decoding
    reduced = fingerprint(original, load_image(original, min_side=448).image)
    assert (full.phash ^ reduced.phash).bit_count() <= 4
    assert (full.dhash ^ reduced.dhash).bit_count() <= 4
    index = MemoryDuplicateIndex()
    index.add("submission:1", reduced, RULES)
    assert check_duplicates(full, index).status is Status.FAILED  # old and new hashes meet
    for copy in (reencoded(original), reencoded(original, scale=0.3)):
        found = check_duplicates(fingerprint(copy, load_image(copy, min_side=448).image), index)
        assert found.status is Status.FAILED
        assert found.details["matches"][0]["reference"] == "submission:1"


@pytest.fixture(scope="module")
def evasion_corpus() -> tuple[list[Image.Image], MemoryDuplicateIndex, int]:
    """600 distinct photos (a third real-photo tiles, first), indexed in turn; with how many of
    them matched an earlier one."""
    images = distinct_images(600, seed=11)
    index = MemoryDuplicateIndex()
    false_matches = 0
    for number, image in enumerate(images):
        fp = image_fingerprint(image, sha256=str(number))
        false_matches += bool(index.find(fp, RULES))
        index.add(str(number), fp, RULES)
    return images, index, false_matches


# Per evasion, the floor for copies of real-photo tiles (skies, walls, low-texture crops: the
# bench measures ~80% even for plain JPEG copies of them); generated scenes must meet 90%.
TILE_FLOORS = {
    "mirrored": 0.8,
    "bordered": 0.7,
    "cropped10": 0.75,
    "rotated3": 0.7,
    "rotated3+cropped": 0.7,
}


@pytest.mark.parametrize("kind", list(EVASION_KINDS))
def test_it_catches_each_cheap_evasion_without_false_matches(evasion_corpus, kind):
    images, index, false_matches = evasion_corpus
    tiles = len(images) // 3
    rng = random.Random(kind)
    caught: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = [*rng.sample(range(tiles), 40), *rng.sample(range(tiles, len(images)), 80)]
    for number in samples:
        copy = image_fingerprint(EVASION_KINDS[kind](images[number], rng), sha256="copy")
        source = "tile" if number < tiles else "scene"
        total[source] += 1
        caught[source] += any(m.reference == str(number) for m in index.find(copy, RULES))
    assert false_matches / len(images) <= 0.001
    assert caught["scene"] / total["scene"] >= 0.9
    assert caught["tile"] / total["tile"] >= TILE_FLOORS[kind]


def test_it_catches_a_crop_taken_all_from_one_side(evasion_corpus):
    """9% cut from one side only (the worst split of a 10% crop): centre crops alone, stored
    beside each photo before the side crops, caught 40% of these."""
    images, index, _ = evasion_corpus
    tiles = len(images) // 3
    rng = random.Random(9)
    caught = copies = 0
    for number in rng.sample(range(tiles, len(images)), 40):
        image = images[number]
        width, height = image.size
        for side in range(4):
            cut = [0.0] * 4
            cut[side] = 0.09
            left, right, top, bottom = (
                round(extent * fraction)
                for extent, fraction in zip((width, width, height, height), cut, strict=True)
            )
            copy = jpeg_roundtrip(image.crop((left, top, width - right, height - bottom)))
            found = index.find(image_fingerprint(copy, sha256="copy"), RULES)
            caught += any(m.reference == str(number) for m in found)
            copies += 1
    assert caught / copies >= 0.9


REAL_PHOTOS = (
    "DSCN0010.jpg",
    "DSCN0012.jpg",
    "DSCN0021.jpg",
    "Canon_40D.jpg",
    "landscape_6.jpg",
    "HMD_Nokia_8.3_5G.jpg",
    "HMD_Nokia_8.3_5G.heif",
)


@pytest.fixture(scope="module")
def real_photos() -> list[Image.Image]:
    return [load_image((PHOTOS / name).read_bytes()).image for name in REAL_PHOTOS]


@pytest.mark.parametrize("kind", list(EVASION_KINDS))
def test_it_catches_evasions_of_real_photos_no_corpus_has_seen(real_photos, kind):
    """The shared photos whole (the corpus only has tiles of them), each submitted after the
    others; three copies of each, made from a web-sized version (at most 1600 px a side)."""
    index = MemoryDuplicateIndex()
    for number, photo in enumerate(real_photos):
        fp = image_fingerprint(photo, sha256=str(number))
        assert index.find(fp, RULES) == []  # three shots of one street are still three photos
        index.add(str(number), fp, RULES)
    caught = copies = 0
    for seed in range(3):
        rng = random.Random(seed)
        for number, photo in enumerate(real_photos):
            web = photo.copy()
            web.thumbnail((1600, 1600))
            found = index.find(image_fingerprint(EVASION_KINDS[kind](web, rng)), RULES)
            assert {m.reference for m in found} <= {str(number)}  # never another photo
            caught += bool(found)
            copies += 1
    assert caught / copies >= 0.9


def test_it_trims_a_uniform_frame_of_any_colour():
    photo = load_image(photo_bytes("DSCN0010.jpg")).image.resize((320, 240))
    luma = working_luma(photo)
    assert trim_borders(luma) is luma  # a photo without a frame is left whole
    for colour, widths in (((255, 255, 255), (20, 20, 20, 20)), ((200, 30, 40), (8, 30, 14, 2))):
        framed = working_luma(ImageOps.expand(photo, border=widths, fill=colour))
        assert abs(trim_borders(framed).width - luma.width) <= 2
        assert abs(trim_borders(framed).height - luma.height) <= 2


@pytest.mark.django_db
def test_the_database_index_finds_mirrored_framed_and_cropped_copies():
    database = DatabaseDuplicateIndex()
    original = photo_bytes("DSCN0021.jpg")
    database.add("submission:1", fp_of(original), RULES)
    # The whole picture and its crops; a photo too plain to compare: its whole only.
    assert PhotoFingerprint.objects.filter(reference="submission:1").count() == 6
    database.add("submission:flat", fp_of(flat((10, 10, 10))), RULES)
    assert PhotoFingerprint.objects.filter(reference="submission:flat").count() == 1
    # Stored before views existed: the whole picture alone, still found mirrored.
    old = fp_of(photo_bytes("DSCN0010.jpg"))
    database.add("submission:old", replace(old, crops=()), RULES)
    image = load_image(original).image
    copies = {
        "mirrored": ImageOps.mirror(image),
        "framed": ImageOps.expand(image, border=24, fill=(250, 250, 250)),
        "cropped": image.crop((48, 10, image.width - 16, image.height - 30)),
    }
    for name, copy in copies.items():
        found = database.find(image_fingerprint(copy, sha256=name), RULES)
        assert [m.reference for m in found] == ["submission:1"], name
        assert found == memory_index_of(original).find(image_fingerprint(copy, sha256=name), RULES)
    mirrored_old = image_fingerprint(ImageOps.mirror(load_image(photo_bytes("DSCN0010.jpg")).image))
    assert [m.reference for m in database.find(mirrored_old, RULES)] == ["submission:old"]
    exact = database.find(fp_of(original), RULES)
    assert [(m.reference, m.exact) for m in exact] == [("submission:1", True)]


def memory_index_of(data: bytes) -> MemoryDuplicateIndex:
    index = MemoryDuplicateIndex()
    index.add("submission:1", fp_of(data), RULES)
    return index
