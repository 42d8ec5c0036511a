"""Fault-injection hooks for the reliability tests; inert unless PBR_TEST_PAUSE_AT is set.

`PBR_TEST_PAUSE_AT=<point>` makes the process stop at that named point of a refresh — `step:load`,
`step:link`, … `step:outputs` (before each step), `pre-commit` (every step done, before the store
commits), `output-move` (store committed, old outputs moved aside, new ones not yet in place) —
write its pid to `PBR_TEST_PAUSE_FILE` (when set) and sleep, so a test can SIGKILL it there and
check the store and the outputs. Nothing is written and no time is spent when the variable is
unset."""

from __future__ import annotations

import os
import time

ENV_POINT = "PBR_TEST_PAUSE_AT"
ENV_FILE = "PBR_TEST_PAUSE_FILE"

POINTS = ["step:load", "step:link", "step:families", "step:cohort", "step:outcomes", "step:claims",
          "step:outputs", "pre-commit", "output-move"]


def pause_at(point: str) -> None:
    if os.environ.get(ENV_POINT) != point:
        return
    marker = os.environ.get(ENV_FILE)
    if marker:
        tmp = f"{marker}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(str(os.getpid()))
        os.replace(tmp, marker)
    while True:  # until killed
        time.sleep(3600)
