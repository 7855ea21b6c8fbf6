"""Settings of the request-floor bench's Django servers (bench/floor_bench.py): the
project's, with the bench's two plain views in front of its URLs; FLOOR_MINIMAL=1 takes
every middleware out (the "minimal Django view" rung)."""

import os

from gridmgmt.settings import *  # noqa: F403
from gridmgmt.settings import MIDDLEWARE

ROOT_URLCONF = "bench.floor_site"
MIDDLEWARE = [] if os.environ.get("FLOOR_MINIMAL") == "1" else list(MIDDLEWARE)
