"""Settings for benchmark servers: the real settings, plus a bare DRF view to compare with."""

from market.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
