"""Test mode: simulated workers fulfil test bounties through the real pipeline."""

import io
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from bounties.models import BountyStatus, SubmissionStatus
from market.ledger.selectors import wallet_summary
from tests.bounties.helpers import funded_bounty
from tests.bounties.photos import PHOTOS
from tests.conftest import make_actor

pytestmark = pytest.mark.django_db(transaction=True)  # verification runs on commit


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ["DSCN0010.jpg", "DSCN0012.jpg", "DSCN0021.jpg", "Canon_40D.jpg"]:
        shutil.copy(PHOTOS / name, tmp_path / name)
    return tmp_path


def test_simulated_workers_fulfil_a_test_bounty(folder: Path) -> None:
    tester = make_actor(is_test=True)
    live = make_actor()
    test_bounty = funded_bounty(tester.agent, quantity=3, lat=48.8566, lon=2.3522)
    live_bounty = funded_bounty(live.agent, quantity=1)
    out = io.StringIO()
    call_command("simulate_workers", "--photos", str(folder), stdout=out, verbosity=0)

    test_bounty.refresh_from_db()
    assert test_bounty.status == BountyStatus.FULFILLED, out.getvalue()
    submissions = list(test_bounty.submissions.all())
    assert len(submissions) == 3
    assert all(s.status == SubmissionStatus.ACCEPTED for s in submissions)
    # the pipeline really ran: location and time passed on the stamped photos
    for submission in submissions:
        checks = {check["name"]: check["status"] for check in submission.checks}
        assert checks["location"] == checks["time"] == "passed", submission.checks
        assert submission.worker.is_test_worker
    assert wallet_summary(tester.agent).held_minor == 0
    live_bounty.refresh_from_db()
    assert live_bounty.submissions.count() == 0  # live bounties are never simulated


def test_it_refuses_a_folder_without_photos(tmp_path: Path) -> None:
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="not a folder with photos"):
        call_command("simulate_workers", "--photos", str(tmp_path))
