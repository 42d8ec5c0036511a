"""System programs some tests need (LibreOffice, Chromium, a PostgreSQL server).

On a developer's machine without them those tests skip with a reason; under `.ci/run`, which
installs them and sets PBR_REQUIRE_SYSTEM_TOOLS=1, a missing program fails the test instead, so CI
can never go green by skipping."""

from __future__ import annotations

import os
import shutil

import pytest


def required() -> bool:
    return os.environ.get("PBR_REQUIRE_SYSTEM_TOOLS") == "1"


def need(condition: bool, what: str) -> None:
    """Skip (or, under CI, fail) the calling test unless `condition` holds."""
    if condition:
        return
    message = f"{what} is not available on this machine"
    if required():
        pytest.fail(message + " (PBR_REQUIRE_SYSTEM_TOOLS=1: .ci/run should have installed it)")
    pytest.skip(message)


def need_program(*names: str) -> str:
    """The path of the first of `names` on PATH; skips or fails when none is."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    need(False, " or ".join(names))
    raise AssertionError("unreachable")
