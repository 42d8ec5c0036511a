"""Probabilistic person linkage with Splink 5 (DuckDB backend), on top of the deterministic graph.

The deterministic edges of sql/refresh/20_identity.sql join what is certainly one person. This
module scores pairs of identity observations that the deterministic graph left apart (standardised
forename with a nickname table, surname with a phonetic code, date of birth, sex, postcode and
address tokens, with term-frequency adjustments) using the pinned model
`linkage_models/people-3.json`, and returns the pairs above the configured threshold as edges for
the same graph. Twins (same surname and date of birth, forenames that are neither equal, nicknames
of each other nor one typo apart) are never linked.

Splink runs on its own in-memory DuckDB connection: the observations go over as one Arrow table
and the scored pairs come back as one, so the store's transaction never sees Splink's tables.
Nothing here logs or raises personal data."""

from __future__ import annotations

import csv
import json
import logging
import re
import tempfile
from functools import lru_cache
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

MODEL_VERSION = 3
# DuckDB memory_limit of Splink's scoring connection (it spills its blocked pairs beyond it):
# PER_OBS bytes for each observation scored, at least FLOOR. The blocked pairs grow with the
# observations, and spilling them costs time: region scale (3.44M observations, 47M pairs) scored
# in 190 s at 400 MB, 128 s at 1.5 GB, 68 s at 2.5 GB and 75 s at 4 GB (benchmarks/README, Round
# 6). The refresh lends Splink this much of the store's own cap while the store is idle
# (probabilistic_links), so the two stay within the store's budget.
SPLINK_MEMORY_FLOOR = 400 << 20
SPLINK_MEMORY_PER_OBS = 768


def splink_memory_limit(observations: int, budget: int | None) -> int:
    """Bytes for Splink's connection when scoring `observations` rows, out of a `budget` (the
    store's cap; None: no bound but the observations) of which it takes at most half."""
    want = max(SPLINK_MEMORY_FLOOR, SPLINK_MEMORY_PER_OBS * observations)
    return want if budget is None else max(SPLINK_MEMORY_FLOOR, min(want, budget // 2))


def models_root() -> Path:
    checkout = Path(__file__).resolve().parents[2] / "linkage_models"
    if checkout.is_dir():
        return checkout
    from importlib import resources
    return Path(str(resources.files("pbr") / "_linkage_models"))


def model_path() -> Path:
    return models_root() / f"people-{MODEL_VERSION}.json"


@lru_cache(maxsize=1)
def nicknames() -> dict[str, set[str]]:
    """Standardised name -> the full names it may stand for (itself included)."""
    out: dict[str, set[str]] = {}
    with open(models_root() / "nicknames.csv", newline="", encoding="utf-8") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        for r in rows:
            nick, full = _std(r["nickname"]), _std(r["name"])
            out.setdefault(nick, {nick}).add(full)
            out.setdefault(full, {full})
    return out


def _std(s: str) -> str:
    return "".join(ch for ch in s.upper() if "A" <= ch <= "Z")


_SOUNDEX = {**dict.fromkeys("BFPV", "1"), **dict.fromkeys("CGJKQSXZ", "2"), **dict.fromkeys("DT", "3"),
            "L": "4", **dict.fromkeys("MN", "5"), "R": "6"}


def soundex(name: str | None) -> str | None:
    """American Soundex of a standardised (A-Z) name."""
    if not name:
        return None
    out, last = name[0], _SOUNDEX.get(name[0], "")
    for ch in name[1:]:
        code = _SOUNDEX.get(ch, "")
        if code and code != last:
            out += code
        if ch not in "HW":
            last = code
    return (out + "000")[:4]


# ---- the model -------------------------------------------------------------------------------

# Blocking rules for prediction: several, so a pair with some fields wrong still meets one. Each
# skips pairs the deterministic graph has already joined (same `det` component).
PREDICT_BLOCKING = [
    # Forename and surname alone (model 1) made blocks that grow with the population: pairs grew
    # with the square of it (region scale: 358M pairs from that rule, against 3.6M at authority).
    # With the birth year, or the birth day and month, a block stays a few people, and a wrong
    # date of birth is still caught unless both its year and its day/month are wrong.
    "l.fn = r.fn and l.sn = r.sn and l.dob_year = r.dob_year",
    "l.fn = r.fn and l.sn = r.sn and l.dob_md = r.dob_md",
    "l.sn = r.sn and l.dob = r.dob",
    "l.fn = r.fn and l.dob = r.dob",
    "l.dob = r.dob and l.pc = r.pc",
    # Model 2's Soundex(surname) + postcode and forename + postcode paired every member of a
    # household with every other (four in five of authority scale's 2.0M blocked pairs). With a
    # third key, Soundex(forename), the birth year or the birth day/month, they still meet a
    # record whose other fields are wrong, and on the authority and region benchmark data every
    # pair model 2 scored at or above 0.99 still meets (model 3: 2.0M -> 0.44M pairs at authority,
    # 47M -> 32M at region; benchmarks/README, Round 6).
    "l.sn_ph = r.sn_ph and l.pc = r.pc and l.fn_ph = r.fn_ph",
    "l.sn_ph = r.sn_ph and l.pc = r.pc and l.dob_year = r.dob_year",
    "l.sn_ph = r.sn_ph and l.pc = r.pc and l.dob_md = r.dob_md",
    "l.fn = r.fn and l.pc = r.pc and l.dob_year = r.dob_year",
    "l.fn = r.fn and l.pc = r.pc and l.dob_md = r.dob_md",
    "l.addr_key = r.addr_key and l.pc = r.pc and l.dob_year = r.dob_year",
    # Model 1's Soundex of both names + birth year grew the same way (388M region pairs): now
    # within a postcode district, or with the whole date of birth.
    "l.sn_ph = r.sn_ph and l.fn_ph = r.fn_ph and l.dob_year = r.dob_year and l.pc_district = r.pc_district",
    "l.sn_ph = r.sn_ph and l.fn_ph = r.fn_ph and l.dob = r.dob",
]


def _level(cond: str, label: str, **kw) -> dict:
    """A comparison level; `l.x` / `r.x` in the condition become Splink's `x_l` / `x_r`."""
    cond = re.sub(r"\b([lr])\.([a-z_]+)", lambda m: f'"{m.group(2)}_{m.group(1)}"', cond)
    return {"sql_condition": cond, "label_for_charts": label, **kw}


def settings_dict() -> dict:
    """The model's structure (the m and u values are what training estimates)."""
    null = lambda c: _level(f"l.{c} IS NULL OR r.{c} IS NULL", "null", is_null_level=True)  # noqa: E731
    return {
        "link_type": "dedupe_only",
        "sql_dialect": "duckdb",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": 0.0005,
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": False,
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": f"({b}) and l.det <> r.det", "sql_dialect": "duckdb"} for b in PREDICT_BLOCKING],
        "comparisons": [
            {"output_column_name": "fn", "comparison_description": "forename", "comparison_levels": [
                null("fn"),
                _level("l.fn = r.fn", "exact", tf_adjustment_column="fn", tf_adjustment_weight=1.0),
                _level("list_has_any(l.fn_alts, r.fn_alts)", "nickname"),
                _level("damerau_levenshtein(l.fn, r.fn) <= 1", "one edit"),
                _level("jaro_winkler_similarity(l.fn, r.fn) >= 0.88", "jaro-winkler 0.88"),
                _level("ELSE", "else")]},
            {"output_column_name": "sn", "comparison_description": "surname", "comparison_levels": [
                null("sn"),
                _level("l.sn = r.sn", "exact", tf_adjustment_column="sn", tf_adjustment_weight=1.0),
                _level("damerau_levenshtein(l.sn, r.sn) <= 1", "one edit"),
                _level("l.sn_ph = r.sn_ph", "phonetic"),
                _level("jaro_winkler_similarity(l.sn, r.sn) >= 0.88", "jaro-winkler 0.88"),
                _level("ELSE", "else")]},
            {"output_column_name": "dob", "comparison_description": "date of birth", "comparison_levels": [
                null("dob"),
                _level("l.dob = r.dob", "exact"),  # no tf: birth dates are near uniform
                _level("l.dob_year = r.dob_year and l.dob_md = r.dob_dm", "day and month swapped"),
                _level("damerau_levenshtein(l.dob, r.dob) <= 1", "one character"),
                _level("l.dob_year = r.dob_year", "same year"),
                _level("ELSE", "else")]},
            {"output_column_name": "sex", "comparison_description": "sex", "comparison_levels": [
                null("sex"), _level("l.sex = r.sex", "exact"), _level("ELSE", "else")]},
            # Postcode and address together: for one dwelling they agree together, so counting
            # them as two comparisons would count one piece of evidence twice.
            {"output_column_name": "place", "comparison_description": "address and postcode", "comparison_levels": [
                null("pc"),
                _level("l.pc = r.pc and l.addr_key = r.addr_key", "same dwelling"),
                _level("l.pc = r.pc", "same postcode", tf_adjustment_column="pc", tf_adjustment_weight=1.0),
                _level("l.pc_sector = r.pc_sector", "same sector"),
                _level("l.pc_district = r.pc_district", "same district"),
                _level("ELSE", "else")]},
        ],
    }


# Training (EM) blocking: each leaves some comparisons free to estimate.
TRAINING_BLOCKING = ["l.dob = r.dob and l.pc = r.pc", "l.fn = r.fn and l.sn = r.sn", "l.sn = r.sn and l.pc = r.pc"]


# The smallest m probability a disagreement level may have. Deterministic components rarely hold
# a person whose forename, date of birth or address disagree outright, so their m comes out zero
# or missing (a missing m counts as no evidence, which would let a household's members, agreeing
# on surname and address, link). These floors say how often one person's records really disagree.
M_FLOORS = {
    "fn": {"jaro-winkler 0.88": 0.01, "else": 0.02},
    "sn": {"phonetic": 0.01, "jaro-winkler 0.88": 0.01, "else": 0.02},
    "dob": {"one character": 0.01, "same year": 0.0005, "else": 0.001},
    "sex": {"else": 0.05},
    "place": {"same postcode": 0.02, "same sector": 0.03, "same district": 0.05, "else": 0.1},
}


def _with_m_floors(model: dict) -> dict:
    for comp in model["comparisons"]:
        floors = M_FLOORS.get(comp["output_column_name"], {})
        for level in comp["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            floor = floors.get(level["label_for_charts"], 1e-4)
            if not level.get("m_probability") or level["m_probability"] < floor:
                level["m_probability"] = floor
    return model


# ---- the observations ------------------------------------------------------------------------

# The observations: each distinct standardised identity of a source key, with its deterministic
# component. Their unique ids number them in OBS_ORDER (a total order: it names every column).
OBS_DISTINCT_SQL = """
    SELECT DISTINCT c.label AS det, o.source, o.source_key, o.fn, o.sn, CAST(o.dob AS VARCHAR) AS dob,
           o.sex, o.pc, o.addr
    FROM identity_obs o JOIN {clusters} c ON c.node = o.source || ':' || o.source_key"""
OBS_ORDER = ["det", "source", "source_key", "fn", "sn", "dob", "sex", "pc", "addr"]
# The numbered observations as one query (the reference `observations` is tested against: it
# numbers them by the order its result comes in, not by this window, see there).
OBS_SQL = (f"SELECT row_number() OVER (ORDER BY {', '.join(OBS_ORDER)}) AS unique_id, * FROM ("
           + OBS_DISTINCT_SQL + ")")

# The derived columns the model compares, in SQL over the observations (names' nickname lists
# and phonetic codes come from a lookup computed once per distinct name, addresses' keys and
# tokens once per distinct address).
DERIVE_SQL = """
    SELECT o.det, o.source, o.source_key, o.fn, o.sn, o.dob, o.sex, o.pc, o.addr,
           a.addr_key, f.alts AS fn_alts, f.ph AS fn_ph, s.ph AS sn_ph,
           left(o.dob, 4) AS dob_year, substr(o.dob, 6) AS dob_md,
           substr(o.dob, 9, 2) || '-' || substr(o.dob, 6, 2) AS dob_dm,
           CASE WHEN contains(o.pc, ' ') THEN left(o.pc, length(o.pc) - 2) END AS pc_sector,
           split_part(o.pc, ' ', 1) AS pc_district
    FROM _pbr_obs_base o
    LEFT JOIN _pbr_name_codes f ON f.name = o.fn
    LEFT JOIN _pbr_name_codes s ON s.name = o.sn
    LEFT JOIN (SELECT d.addr, {addr_key} AS addr_key
               FROM (SELECT DISTINCT addr FROM _pbr_obs_base WHERE addr IS NOT NULL) d{addr_key_join}) a ON a.addr = o.addr"""
OBS_ORDER_BY = " ORDER BY " + ", ".join(f"o.{c}" for c in OBS_ORDER)

# In a refresh the address keys come from its memo table (pbr.memo: the same macro's values).
ADDR_KEY_MACRO = ("address_key(d.addr)", "")
ADDR_KEY_MEMO = ("k.output", " JOIN memo_address_key k ON k.input = d.addr")


def observations(con: duckdb.DuckDBPyConnection, clusters: str, ordered: bool = True) -> pa.Table:
    """The identity observations, one row per distinct standardised identity of a source key, with
    its deterministic component and the derived columns the model compares.

    ordered=False: numbered in whatever order the query gives them (not the same from run to run),
    for a caller whose results do not depend on which of a pair is `l` and which `r`. The refresh
    is one: every comparison, the twin guard and the blocking rules are symmetric, so a pair scores
    the same either way round, and it keeps only each link's unordered pair (person_link: least,
    greatest) and counts. The sort cost the refresh 0.25-0.3 s at authority scale, before Splink
    could start (issue 9, round 26). `pbr linkage review` shows pairs as a and b: it keeps the
    order, so its files are the same from run to run."""
    # Numbered in the order they come out of the derived columns' query, which (ordered) ends
    # sorted in OBS_ORDER: OBS_SQL's row_number() window sorted them twice (the window, on one thread, then
    # this query by its number): 1.21 s against 0.90 s at authority scale, medians of six. The
    # same ids (tested).
    con.execute(f"CREATE OR REPLACE TEMP TABLE _pbr_obs_base AS {OBS_DISTINCT_SQL.format(clusters=clusters)}")
    names = [r[0] for r in con.execute(
        "SELECT fn FROM _pbr_obs_base WHERE fn IS NOT NULL UNION SELECT sn FROM _pbr_obs_base WHERE sn IS NOT NULL"
    ).fetchall()]
    nick = nicknames()
    codes = pa.table({"name": pa.array(names, pa.string()),
                      "alts": pa.array([sorted(nick.get(n, {n})) for n in names], pa.list_(pa.string())),
                      "ph": pa.array([soundex(n) for n in names], pa.string())})
    con.register("_pbr_name_codes", codes)
    memo = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'memo_address_key' AND temporary"
                       ).fetchall()[0][0] > 0
    addr_key, addr_key_join = ADDR_KEY_MEMO if memo else ADDR_KEY_MACRO
    try:
        obs = con.sql(DERIVE_SQL.format(addr_key=addr_key, addr_key_join=addr_key_join)
                      + (OBS_ORDER_BY if ordered else "")).to_arrow_table()
    finally:
        con.unregister("_pbr_name_codes")
        con.execute("DROP TABLE IF EXISTS _pbr_obs_base")
    return obs.add_column(0, "unique_id", pa.array(np.arange(1, obs.num_rows + 1, dtype=np.int64)))


def _derive(obs: pa.Table) -> pa.Table:
    """The derived columns in Python (kept as the reference the SQL in DERIVE_SQL is tested against)."""
    nick = nicknames()
    fn = obs.column("fn").to_pylist()
    sn = obs.column("sn").to_pylist()
    dob = obs.column("dob").to_pylist()
    pc = obs.column("pc").to_pylist()
    cols = {
        "fn_alts": [sorted(nick.get(f, {f})) if f else None for f in fn],
        "fn_ph": [soundex(f) for f in fn],
        "sn_ph": [soundex(s) for s in sn],
        "dob_year": [d[:4] if d else None for d in dob],
        "dob_md": [d[5:] if d else None for d in dob],
        "dob_dm": [f"{d[8:10]}-{d[5:7]}" if d else None for d in dob],
        "pc_sector": [p[:-2] if p and " " in p else None for p in pc],
        "pc_district": [p.split(" ")[0] if p else None for p in pc],
    }
    for name, values in cols.items():
        obs = obs.append_column(name, pa.array(values))
    return obs


OBS_TABLE = "pbr_obs"
SCORED_TABLE = "pbr_obs_scored"
BLOCKED_TABLE = "pbr_blocked_pairs"


def scored_columns(settings: dict, columns: list[str]) -> list[str]:
    """The observation columns a model's scoring reads: its unique id, every column its
    comparisons name (as `x_l` / `x_r`), their term-frequency columns and any it retains."""
    text = json.dumps(settings.get("comparisons") or [])
    keep = {settings.get("unique_id_column_name") or "unique_id", *(settings.get("additional_columns_to_retain") or [])}
    keep |= {lv["tf_adjustment_column"] for comp in settings.get("comparisons") or []
             for lv in comp.get("comparison_levels") or [] if lv.get("tf_adjustment_column")}
    keep |= {c for c in columns if re.search(rf"\b{re.escape(c)}_[lr]\b", text)}
    return [c for c in columns if c in keep]


def _linker(obs: pa.Table, settings, con: duckdb.DuckDBPyConnection | None = None):
    from splink import DuckDBAPI, Linker
    db_api = DuckDBAPI(con if con is not None else duckdb.connect(":memory:"))
    sdf = db_api.register(obs, table_name=OBS_TABLE)
    return Linker(sdf, settings, log_level=None)


def plain_rules(settings: dict) -> list[str] | None:
    """The prediction blocking rules as SQL conditions, or None when one is more than a condition
    (exploding or salted rules) or the model is not a dedupe: then Splink blocks them itself."""
    if settings.get("link_type") != "dedupe_only":
        return None
    rules = []
    for r in settings.get("blocking_rules_to_generate_predictions") or []:
        if isinstance(r, str):
            rules.append(r)
        elif isinstance(r, dict) and set(r) <= {"blocking_rule", "sql_dialect"} and r.get("sql_dialect", "duckdb") == "duckdb":
            rules.append(r["blocking_rule"])
        else:
            return None
    return rules or None


def block(con: duckdb.DuckDBPyConnection, rules: list[str], uid: str = "unique_id") -> str:
    """The pairs Splink's blocking gives for a dedupe (match_key, join_key_l, join_key_r): each
    pair l < r that any rule joins, keyed by the first rule that does. Splink runs the rules as one
    union of joins, each excluding the pairs of the rules before it; that holds every join's hash
    table at once and needed ~3 KB an observation to stay in memory (authority: 1.8 s unspilled,
    5.7 s at Splink's 400 MB). Here each rule is one join on the columns it names, then one
    group-by keeps each pair's first rule: the same set and keys by construction (a rule's
    condition NULL is no pair, as Splink's coalesce(..., false) has it), tested against Splink's.
    Rules that only compare columns for (in)equality join on the columns' 64-bit hashes when no
    two of a column's values share a hash (`hashed_keys`)."""
    table = hashed_keys(con, rules, uid) or OBS_TABLE
    for k, rule in enumerate(rules):
        into = "CREATE OR REPLACE TEMP TABLE _pbr_rule_pairs AS" if k == 0 else "INSERT INTO _pbr_rule_pairs"
        con.execute(f"""{into} SELECT {k} AS k, l.{uid} AS l, r.{uid} AS r
            FROM {table} l JOIN {table} r ON ({rule}) WHERE l.{uid} < r.{uid}""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {BLOCKED_TABLE} AS
        SELECT CAST(min(k) AS VARCHAR) AS match_key, l AS join_key_l, r AS join_key_r
        FROM _pbr_rule_pairs GROUP BY l, r""")
    con.execute("DROP TABLE _pbr_rule_pairs")
    con.execute(f"DROP TABLE IF EXISTS {HASHED_TABLE}")
    return BLOCKED_TABLE


HASHED_TABLE = "pbr_blocking_keys"
HASH = "hash"  # DuckDB's 64-bit hash (a test swaps in a colliding one)
_ATOM = re.compile(r"^l\.([a-z_][a-z0-9_]*)\s*(=|<>|!=)\s*r\.\1$")


def equality_columns(rules: list[str]) -> list[str] | None:
    """The columns the rules compare, when every rule is a conjunction of `l.x = r.x` and
    `l.x <> r.x` (brackets only grouping them); None for anything else (an OR, a function, two
    different columns compared)."""
    cols: list[str] = []
    for rule in rules:
        for atom in re.split(r"\s+and\s+", rule.replace("(", " ").replace(")", " ").strip(), flags=re.IGNORECASE):
            m = _ATOM.match(atom.strip())
            if m is None:
                return None
            cols += [m.group(1)] if m.group(1) not in cols else []
    return cols or None


def hashed_keys(con: duckdb.DuckDBPyConnection, rules: list[str], uid: str) -> str | None:
    """A table of the observations' blocking columns as 64-bit hashes (NULL kept NULL), for rules
    that only test them for (in)equality, provided no two distinct values of a column share a hash:
    then equal hashes mean equal values and the joins give the same pairs, on integers instead of
    text (authority: the 13 rules' joins 1.25 -> 0.45 s). None (join the values) otherwise."""
    cols = equality_columns(rules)
    if cols is None or uid in cols:
        return None
    collisions = " UNION ALL ".join(
        f"SELECT count(*) FROM (SELECT {HASH}(v) FROM (SELECT DISTINCT {c} AS v FROM {OBS_TABLE} WHERE {c} IS NOT NULL) "
        f"GROUP BY 1 HAVING count(*) > 1)" for c in cols)
    if any(n for (n,) in con.execute(collisions).fetchall()):
        return None
    hashes = ", ".join(f"CASE WHEN {c} IS NOT NULL THEN {HASH}({c}) END AS {c}" for c in cols)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {HASHED_TABLE} AS SELECT {uid}, {hashes} FROM {OBS_TABLE}")
    return HASHED_TABLE


def predict(obs: pa.Table, threshold: float, model: Path | None = None,
            memory_limit: int | None = None) -> pa.Table:
    """Pairs scored at or above `threshold` by the pinned model: unique_id_l, unique_id_r,
    match_probability, match_weight (and match_key). The compared fields are not retained (the
    callers join the observations for them): at authority scale Splink scores ≈11M blocked pairs,
    and carrying every compared column through them cost time for nothing; the scores are the
    same SQL either way. pbr computes the blocked pairs (`block`, the pairs Splink's rules give)
    and registers them for Splink to score. Splink's connection is capped at `memory_limit` bytes (default, as for
    `pbr linkage review`: splink_memory_limit within half the machine's memory, so at most a
    quarter of it)."""
    if obs.num_rows < 2:
        return pa.table({"unique_id_l": pa.array([], pa.int64()), "unique_id_r": pa.array([], pa.int64()),
                         "match_probability": pa.array([], pa.float64()), "match_weight": pa.array([], pa.float64())})
    settings = json.loads(Path(model or model_path()).read_text(encoding="utf-8"))
    settings["retain_matching_columns"] = False
    logging.getLogger("splink").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="pbr-splink-") as spill:
        con = duckdb.connect(":memory:")
        # Splink's own database holds the blocked pairs while it scores them: capped, so beyond
        # the cap they spill to a private temp folder.
        if memory_limit is None:
            from .store_settings import machine_memory
            ram = machine_memory()
            memory_limit = splink_memory_limit(obs.num_rows, ram // 2 if ram else None)
        cap = memory_limit
        con.execute(f"SET memory_limit = '{max(cap, 1 << 20) >> 20}MiB'")
        con.execute("SET temp_directory = ?", [spill])
        try:
            from splink import DuckDBAPI, Linker
            db_api = DuckDBAPI(con)
            rules = plain_rules(settings)
            if rules is not None:  # pbr blocks (leaner, the same pairs); Splink scores them
                db_api.register(obs, table_name=OBS_TABLE)
                # Splink copies every column of the pairs' rows before scoring: only those the
                # comparisons read go to it (authority: 0.3 s less; the same scores, tested).
                scored = obs.select(scored_columns(settings, obs.column_names))
                linker = Linker(db_api.register(scored, table_name=SCORED_TABLE), settings, log_level=None)
                blocked = block(con, rules, settings.get("unique_id_column_name") or "unique_id")
                linker.table_management.register_blocked_pairs_for_predict(
                    db_api.register(blocked, table_name="pbr_blocked"))
            else:
                linker = Linker(db_api.register(obs, table_name=OBS_TABLE), settings, log_level=None)
            pairs = linker.inference.predict(threshold_match_probability=threshold).as_pyarrow_table()
        finally:
            con.close()  # Splink's tables (blocked pairs, tf lookups) go now, not when collected
    return pairs


def train(obs: pa.Table, out: Path, seed: int = 1, em: bool = False) -> dict:
    """Unsupervised training: u by random sampling, m by expectation maximisation under several
    blocking rules, the prior from the deterministic components. Writes the model JSON."""
    logging.getLogger("splink").setLevel(logging.ERROR)
    settings = settings_dict()
    linker = _linker(obs, settings)
    linker.training.estimate_probability_two_random_records_match(
        ["l.fn = r.fn and l.sn = r.sn and l.dob = r.dob", "l.det = r.det"], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    # Starting m values from the deterministic components (records one UPN, NINO or person ref
    # already joins show how one person's details vary), then EM over pairs the deterministic
    # rules left apart.
    linker.training.estimate_m_from_label_column("det")
    if em:
        for rule in TRAINING_BLOCKING:
            linker.training.estimate_parameters_using_expectation_maximisation(
                f"({rule}) and l.det <> r.det", record_sample_proportion=1.0)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model = _with_m_floors(linker.misc.save_model_to_json(str(out), overwrite=True))
    out.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    return {"records": obs.num_rows, "model": str(out),
            "probability_two_random_records_match": model.get("probability_two_random_records_match")}
