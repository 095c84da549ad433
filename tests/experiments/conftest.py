"""Fixtures of the sweep and study tests."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
import ray


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One small local Ray for the module: 2 CPUs, no dashboard, no usage stats."""
    saved = os.environ.get("RAY_USAGE_STATS_ENABLED")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, logging_level=logging.WARNING)
    yield
    ray.shutdown()
    if saved is None:
        os.environ.pop("RAY_USAGE_STATS_ENABLED")
    else:
        os.environ["RAY_USAGE_STATS_ENABLED"] = saved
