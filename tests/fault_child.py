"""Run the store half of one refresh from a pickled, already validated delivery (so a fault test's
subprocess starts in about a second, without Great Expectations). Used by test_reliability.py
with PBR_TEST_PAUSE_AT set, then SIGKILLed.

    python tests/fault_child.py PARSED.pkl DB OUT PERIOD"""

import pickle
import sys
from pathlib import Path

from pbr.config import load_config
from pbr.refresh import apply_delivery
from pbr.rulebook import load_rulebook

if __name__ == "__main__":
    parsed_path, db, out, period = sys.argv[1:5]
    with open(parsed_path, "rb") as fh:
        parsed = pickle.load(fh)
    apply_delivery(period, parsed, Path(db), Path(out), load_rulebook(None), load_config(None))
