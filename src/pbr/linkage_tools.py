"""`pbr linkage train` and `pbr linkage review`: retrain the pinned model from a delivery, and
export borderline pairs for clerical review (a file for staff with access, never logs)."""

from __future__ import annotations

import csv
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from .config import load_config
from .graph import components
from .probabilistic import model_path, observations, predict, train
from .refresh import RefreshRun, identity_steps, read_delivery, set_rule_variables, step_load
from .rulebook import load_rulebook
from .store import connect

REVIEW_COLUMNS = ["a_source", "a_key", "b_source", "b_key", "match_probability", "decision_now",
                  "fn_l", "fn_r", "sn_l", "sn_r", "dob_l", "dob_r", "sex_l", "sex_r", "pc_l", "pc_r", "addr_l", "addr_r"]


def _identity_store(extracts: Path, period: str, config_path: Path | None, tmp: Path):
    """A throwaway store holding the delivery, with identity_obs and the deterministic graph."""
    config = load_config(config_path)
    rb = load_rulebook(None)
    parsed = read_delivery(Path(extracts), config, period)
    con = connect(tmp / "train.duckdb")
    run = RefreshRun(con, period, parsed, None, rb, config, str(extracts), "train",
                     datetime.now(timezone.utc).replace(tzinfo=None), lambda _m: None)
    step_load(run)
    identity_steps(con, persist=False)  # a throwaway store: nothing worth keeping
    components(con, "person_edge", "det_cluster")
    return con, config


def train_from_delivery(extracts: Path, period: str, out: Path | None = None, config_path: Path | None = None,
                        em: bool = False) -> dict:
    """Unsupervised (EM) training on one delivery's identities; writes the model JSON (default:
    the pinned model, to be reviewed and committed like code)."""
    with tempfile.TemporaryDirectory() as tmp:
        con, _ = _identity_store(extracts, period, config_path, Path(tmp))
        try:
            obs = observations(con, "det_cluster")
        finally:
            con.close()
    return train(obs, Path(out) if out else model_path(), em=em)


def review_pairs(db: Path, out_file: Path, period: str | None = None, low: float | None = None,
                 high: float | None = None, config_path: Path | None = None) -> int:
    """Score the store's current identities with the pinned model and write the pairs whose match
    probability lies in [low, high) (default: the configuration's review_min up to
    low_confidence) with the compared fields, to a CSV for clerical review. Returns the count."""
    settings = load_config(config_path).linkage
    low = settings.review_min if low is None else low
    high = settings.low_confidence if high is None else high
    con = connect(db, read_only=True)  # temp tables only: the store is never written
    try:
        if True:
            per = period or con.execute("SELECT max(period) FROM refresh_run WHERE finished_at IS NOT NULL").fetchone()[0]
            if per is None:
                from .errors import PbrError
                raise PbrError(f"store {db} has no finished refresh to review")
            set_rule_variables(con, per, load_rulebook(None), load_config(config_path))
            identity_steps(con, persist=False)  # read-only: stored tables are read, the rest derived
            components(con, "person_edge", "det_cluster")
            obs = observations(con, "det_cluster")
            pairs = predict(obs, low)
            con.register("_obs", obs)
            con.register("_pairs", pairs)
            rows = con.execute(f"""
                SELECT l.source, l.source_key, r.source, r.source_key, round(p.match_probability, 4),
                       CASE WHEN p.match_probability >= {float(settings.threshold)} THEN 'linked' ELSE 'not linked' END,
                       l.fn, r.fn, l.sn, r.sn, l.dob, r.dob, l.sex, r.sex, l.pc, r.pc, l.addr, r.addr
                FROM _pairs p JOIN _obs l ON l.unique_id = p.unique_id_l JOIN _obs r ON r.unique_id = p.unique_id_r
                WHERE l.det <> r.det AND p.match_probability < ?
                ORDER BY p.match_probability DESC, 1, 2, 3, 4""", [float(high)]).fetchall()
    finally:
        con.close()
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    with open(out_file, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(REVIEW_COLUMNS)
        w.writerows(rows)
    return len(rows)
