"""Probabilistic person linkage (Splink, pinned model): twins stay apart, a nickname plus a moved
address still links, overrides are honoured, ids stay stable when a delivery adds people, clean
data gives exactly the deterministic people, and the quality report is written."""

from __future__ import annotations

import csv
import json

import pytest

from builders import asb, attendance, benefit, person
from pbr.config import ConfigError, load_config
from pbr.overrides import load_overrides
from pbr.probabilistic import soundex

FORENAMES = ["Alan", "Brenda", "Colin", "Doreen", "Eric", "Fiona", "Gordon", "Hilary", "Ian", "Joyce", "Keith",
             "Lorna", "Martin", "Nora", "Owen", "Pauline", "Quentin", "Rita", "Stuart", "Tessa", "Ursula",
             "Vernon", "Wendy", "Xavier", "Yvonne", "Zoe"]
SURNAMES = ["Abbott", "Barlow", "Cawood", "Dransfield", "Eastwood", "Fearnley", "Gaunt", "Hepworth", "Ibbotson",
            "Jagger", "Kilner", "Lockwood", "Mellor", "Noble", "Outram", "Pickles", "Quarmby", "Rhodes",
            "Schofield", "Tinker", "Uttley", "Varley", "Whiteley", "Yates"]


def filler(n: int = 60, prefix: str = "F") -> list[dict]:
    """Unrelated people so that the model's term frequencies look like a real delivery's."""
    rows = []
    for i in range(n):
        p = person(FORENAMES[i % len(FORENAMES)], SURNAMES[(i * 7) % len(SURNAMES)],
                   f"19{60 + i % 40}-{1 + i % 12:02d}-{1 + (i * 3) % 28:02d}",
                   sex="MF"[i % 2], address=f"{i + 1} Filler Road", postcode=f"S6{i % 6} {i % 9}XY")
        rows.append(asb(p, f"{prefix}{i:03d}", f"E{prefix}{i:03d}", "2025-05-01", "asb_incident"))
    return rows


def test_soundex():
    assert soundex("ROBERT") == soundex("RUPERT") == "R163"
    assert soundex("ASHCRAFT") == "A261"
    assert soundex(None) is None


def test_nickname_and_moved_address_links(pipeline, pipeline_at, tmp_path):
    bob = person("Bob", "Ramsden", "1981-04-17", sex="M", address="14 Mill Lane", postcode="S66 2QT")
    robert = person("Robert", "Ramsden", "1981-04-17", sex="M", address="3 Cedar Close, Maltby", postcode="S66 8RJ")
    run = pipeline.refresh("2025-06", asb=[asb(bob, "PR1", "E1", "2025-05-02", "asb_incident")] + filler(),
                           benefits=[benefit(robert, "AB123456C", "jsa", "2024-01-01")])
    ids = run.person_ids()
    assert ids[("asb", "PR1")] == ids[("benefits", "AB123456C")]
    prob = run.query("SELECT match_probability FROM person_xwalk WHERE source = 'asb' AND source_key = 'PR1'")[0][0]
    assert 0.9 <= prob < 1.0  # the link keeps its probability
    # and with linkage off they are two people
    (tmp_path / "off").mkdir()
    run_off = pipeline_at(tmp_path / "off").refresh("2025-06", asb=[asb(bob, "PR1", "E1", "2025-05-02", "asb_incident")] + filler(),
                          benefits=[benefit(robert, "AB123456C", "jsa", "2024-01-01")],
                          config={"linkage": {"enabled": False}})
    ids_off = run_off.person_ids()
    assert ids_off[("asb", "PR1")] != ids_off[("benefits", "AB123456C")]


def test_twins_stay_apart_even_at_a_low_threshold(pipeline):
    home = dict(sex="M", address="7 Wellgate Terrace", postcode="S60 2LU")
    rows = [attendance(person("Oliver", "Hirst", "2014-06-09", **home), "A100000000001", "2024/25", "summer"),
            attendance(person("Oscar", "Hirst", "2014-06-09", **home), "A100000000002", "2024/25", "summer"),
            # a typo of one twin's forename is the same person (one edit): it links
            attendance(person("Olvier", "Hirst", "2014-06-09", **home), "A100000000003", "2024/25", "summer")]
    run = pipeline.refresh("2025-07", attendance=rows, asb=filler(),
                           config={"linkage": {"threshold": 0.001, "review_min": 0.001}})
    ids = run.person_ids()
    assert ids[("attendance", "A100000000001")] != ids[("attendance", "A100000000002")]
    assert ids[("attendance", "A100000000001")] == ids[("attendance", "A100000000003")]
    assert run.summary["linkage"]["twin_pairs_refused"] >= 1


def test_overrides_are_honoured(pipeline, tmp_path):
    bob = person("Bob", "Ramsden", "1981-04-17", sex="M", address="14 Mill Lane", postcode="S66 2QT")
    robert = person("Robert", "Ramsden", "1981-04-17", sex="M", address="3 Cedar Close", postcode="S66 8RJ")
    stranger = person("Denise", "Kilburn", "1975-02-02", sex="F", address="9 Oak Grove", postcode="DN4 5TT")
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("decision,source_a,key_a,source_b,key_b,note\n"
                         "cannot_link,asb,PR1,benefits,AB123456C,checked by the team\n"
                         "must_link,asb,PR2,benefits,AB123456C,\n", encoding="utf-8")
    tables = dict(asb=[asb(bob, "PR1", "E1", "2025-05-02", "asb_incident"),
                       asb(stranger, "PR2", "E2", "2025-05-03", "asb_incident")] + filler(),
                  benefits=[benefit(robert, "AB123456C", "jsa", "2024-01-01")])
    run = pipeline.refresh("2025-06", config={"linkage": {"overrides": str(overrides)}}, **tables)
    ids = run.person_ids()
    assert ids[("asb", "PR1")] != ids[("benefits", "AB123456C")]
    assert ids[("asb", "PR2")] == ids[("benefits", "AB123456C")]
    # every later refresh honours it too (same config)
    run2 = pipeline.refresh("2025-07", config={"linkage": {"overrides": str(overrides)}}, **tables)
    ids2 = run2.person_ids()
    assert ids2[("asb", "PR1")] != ids2[("benefits", "AB123456C")]
    assert ids2 == ids


def test_overrides_file_errors_name_line_and_column(tmp_path):
    bad = tmp_path / "o.csv"
    bad.write_text("decision,source_a,key_a,source_b,key_b\nmaybe,asb,PR1,asb,PR2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2, column decision"):
        load_overrides(bad)
    bad.write_text("decision,source_a,key_a,source_b,key_b\nmust_link,asb,PR1,police,PR2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2, column source_b"):
        load_overrides(bad)


def test_linkage_config_is_checked(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("linkage:\n  threshold: 1.5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="linkage.threshold"):
        load_config(p)
    p.write_text("linkage:\n  threshold: 0.8\n  low_confidence: 0.95\n  enabled: false\n", encoding="utf-8")
    c = load_config(p).linkage
    assert (c.threshold, c.low_confidence, c.enabled) == (0.8, 0.95, False)


def test_ids_stable_when_a_delivery_adds_people(pipeline):
    bob = person("Bob", "Ramsden", "1981-04-17", sex="M", address="14 Mill Lane", postcode="S66 2QT")
    robert = person("Robert", "Ramsden", "1981-04-17", sex="M", address="3 Cedar Close", postcode="S66 8RJ")
    first = dict(asb=[asb(bob, "PR1", "E1", "2025-05-02", "asb_incident")] + filler(40),
                 benefits=[benefit(robert, "AB123456C", "jsa", "2024-01-01")])
    run1 = pipeline.refresh("2025-06", **first)
    before = run1.person_ids()
    # the next delivery adds new people, among them a variant of Bob and a near-namesake
    added = [asb(person("Rob", "Ramsden", "1981-04-17", sex="M", address="14 Mill Ln", postcode="S66 2QT"),
                 "PR9", "E9", "2025-06-10", "asb_incident"),
             asb(person("Rose", "Ramsden", "2010-01-05", sex="F", address="14 Mill Lane", postcode="S66 2QT"),
                 "PR10", "E10", "2025-06-11", "asb_incident")] + filler(20, prefix="N")
    run2 = pipeline.refresh("2025-07", asb=first["asb"] + added, benefits=first["benefits"])
    after = run2.person_ids()
    assert all(after[k] == v for k, v in before.items())  # nobody already known changed id
    assert after[("asb", "PR9")] == before[("asb", "PR1")]
    assert after[("asb", "PR10")] not in set(before.values())
    assert run2.query("SELECT count(*) FROM id_event WHERE period = '2025-07' AND kind = 'person'")[0][0] == 0


def test_quality_report_and_summary(pipeline):
    bob = person("Bob", "Ramsden", "1981-04-17", sex="M", address="14 Mill Lane", postcode="S66 2QT")
    robert = person("Robert", "Ramsden", "1981-04-17", sex="M", address="3 Cedar Close", postcode="S66 8RJ")
    run = pipeline.refresh("2025-06", asb=[asb(bob, "PR1", "E1", "2025-05-02", "asb_incident")] + filler(),
                           benefits=[benefit(robert, "AB123456C", "jsa", "2024-01-01")])
    q = json.loads((run.out_dir / "linkage_quality.json").read_text(encoding="utf-8"))
    assert q["records_per_source"] == {"asb": 61, "benefits": 1}
    assert q["probabilistic_links"] == 1
    assert sum(q["probability_histogram"].values()) >= 1
    assert q["matched_keys"] == 2 and q["unmatched_keys"] == 60
    text = (run.out_dir / "linkage_quality.json").read_text(encoding="utf-8")
    assert "Ramsden" not in text and "RAMSDEN" not in text  # ids and counts only
    assert run.summary_file["linkage"]["probabilistic_links"] == 1


def test_cli_train_refresh_with_overrides_and_review(tmp_path):
    from click.testing import CliRunner

    from pbr.cli import main
    from pbr.generate import generate
    gen = tmp_path / "gen"
    generate(families=60, seed=3, start="2025-01", end="2025-01", out=gen, messy=True)
    delivery = gen / "deliveries" / "2025-01"
    runner = CliRunner()
    model = tmp_path / "model.json"
    r = runner.invoke(main, ["linkage", "train", "--extracts", str(delivery), "--period", "2025-01", "--model", str(model)])
    assert r.exit_code == 0, r.output
    trained = json.loads(model.read_text(encoding="utf-8"))
    levels = [lv for c in trained["comparisons"] for lv in c["comparison_levels"] if not lv.get("is_null_level")]
    assert levels and all(0 < lv["m_probability"] <= 1 for lv in levels)
    assert sum(0 < lv.get("u_probability", 0) <= 1 for lv in levels) >= len(levels) // 2
    overrides = tmp_path / "o.csv"
    overrides.write_text("decision,source_a,key_a,source_b,key_b\n", encoding="utf-8")
    db = tmp_path / "pbr.duckdb"
    r = runner.invoke(main, ["refresh", "--period", "2025-01", "--extracts", str(delivery), "--db", str(db),
                             "--out", str(tmp_path / "out"), "--overrides", str(overrides)])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "2025-01" / "linkage_quality.json").is_file()
    review = tmp_path / "review" / "pairs.csv"
    r = runner.invoke(main, ["linkage", "review", "--db", str(db), "--out", str(review), "--min", "0.01", "--max", "1"])
    assert r.exit_code == 0, r.output
    with open(review, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {"a_source", "a_key", "match_probability", "fn_l", "fn_r"} <= set(rows[0])
    assert all(0.01 <= float(x["match_probability"]) <= 1 for x in rows)


def test_address_variants_of_one_dwelling_form_one_household(pipeline):
    child = person("Lily", "Firth", "2014-02-03", sex="F", address="Flat 3, 12 Mill Road, Rotherham", postcode="S65 1AB")
    parent = person("Donna", "Firth", "1985-07-08", sex="F", address="3/12 MILL RD", postcode="s651ab")
    run = pipeline.refresh("2025-07", attendance=[attendance(child, "A200000000001", "2024/25", "summer")],
                           benefits=[benefit(parent, "CD654321A", "jsa", "2024-01-01")])
    families = run.families()
    assert any({("attendance", "A200000000001"), ("benefits", "CD654321A")} <= keys for keys in families.values())


def test_pinned_model_blocks_as_the_code_documents():
    """The pinned model's prediction blocking is PREDICT_BLOCKING (the rules and their reasons are
    written there), each only between keys the deterministic graph left apart."""
    from pbr.probabilistic import MODEL_VERSION, PREDICT_BLOCKING, model_path
    model = json.loads(model_path().read_text(encoding="utf-8"))
    assert model_path().name == f"people-{MODEL_VERSION}.json"
    assert [b["blocking_rule"] for b in model["blocking_rules_to_generate_predictions"]] == [
        f"({rule}) and l.det <> r.det" for rule in PREDICT_BLOCKING]
    assert len(set(PREDICT_BLOCKING)) == len(PREDICT_BLOCKING)


def _random_observations(n: int, seed: int):
    """Observations over small pools (many shared names, dates and postcodes) with NULLs in every
    blocked column, derived as the refresh derives them."""
    import random

    import pyarrow as pa

    from pbr.probabilistic import _derive

    rnd = random.Random(seed)
    pick = lambda pool, nulls=0.1: None if rnd.random() < nulls else rnd.choice(pool)  # noqa: E731
    fns, sns = [f.upper() for f in FORENAMES[:8]], [s.upper() for s in SURNAMES[:6]]
    dobs = [f"19{y}-0{m}-1{d}" for y in (80, 81, 95) for m in (1, 2) for d in (1, 2)]
    pcs = ["S1 1AA", "S1 1AB", "S2 4QT", "LS6 2XY"]
    cols = {"unique_id": list(range(1, n + 1)), "det": [f"D{rnd.randrange(n // 2)}" for _ in range(n)],
            "source": ["asb"] * n, "source_key": [f"K{i}" for i in range(n)],
            "fn": [pick(fns) for _ in range(n)], "sn": [pick(sns) for _ in range(n)],
            "dob": [pick(dobs) for _ in range(n)], "sex": [pick(["M", "F"]) for _ in range(n)],
            "pc": [pick(pcs) for _ in range(n)], "addr": [pick(["1 HIGH ST", "2 LOW RD", "FLAT 3 MILL LN"]) for _ in range(n)]}
    obs = _derive(pa.table(cols))
    return obs.append_column("addr_key", pa.array([a[:6] if a else None for a in cols["addr"]]))


@pytest.mark.parametrize("seed", [1, 2])
def test_pbr_blocking_gives_splinks_pairs_and_scores(seed):
    """predict() blocks with pbr.probabilistic.block (a join per rule, then each pair's first rule)
    and lets Splink score the pairs: the same pairs, match keys and scores as Splink's own blocking."""
    import duckdb

    from pbr.probabilistic import OBS_TABLE, _linker, block, model_path, plain_rules, predict

    obs = _random_observations(400, seed)
    settings = json.loads(model_path().read_text(encoding="utf-8"))
    rules = plain_rules(settings)
    assert rules is not None and len(rules) == len(settings["blocking_rules_to_generate_predictions"])

    con = duckdb.connect()
    linker = _linker(obs, settings, con)
    want = linker.inference.compute_blocked_pairs_for_predict_chunk().as_pyarrow_table()
    want = sorted(zip(*(want.column(c).to_pylist() for c in ("join_key_l", "join_key_r", "match_key"))))
    got = con.sql(f"SELECT join_key_l, join_key_r, match_key FROM {block(con, rules)}").fetchall()
    assert con.sql(f"SELECT count(*) FROM {OBS_TABLE}").fetchall()[0][0] == 400
    assert len(want) > 500 and len({k for *_, k in want}) >= 8  # many pairs, most rules in play
    assert sorted(got) == want

    cols = ["unique_id_l", "unique_id_r", "match_key", "match_probability", "match_weight"]
    rows = lambda t: sorted(zip(*(t.column(c).to_pylist() for c in cols)))  # noqa: E731
    settings["retain_matching_columns"] = False
    splinks = _linker(obs, settings).inference.predict(threshold_match_probability=0.01).as_pyarrow_table()
    assert rows(predict(obs, 0.01)) == rows(splinks)


def test_rules_splink_must_block_itself():
    """Exploding or salted rules, or a link (not a dedupe) model: Splink's own blocking is used."""
    from pbr.probabilistic import plain_rules

    dedupe = {"link_type": "dedupe_only"}
    assert plain_rules({**dedupe, "blocking_rules_to_generate_predictions": ["l.a = r.a",
                                                                            {"blocking_rule": "l.b = r.b"}]}) == [
        "l.a = r.a", "l.b = r.b"]
    assert plain_rules({**dedupe, "blocking_rules_to_generate_predictions": [
        {"blocking_rule": "l.a = r.a", "arrays_to_explode": ["a"]}]}) is None
    assert plain_rules({**dedupe, "blocking_rules_to_generate_predictions": [
        {"blocking_rule": "l.a = r.a", "salting_partitions": 4}]}) is None
    assert plain_rules({"link_type": "link_and_dedupe", "blocking_rules_to_generate_predictions": ["l.a = r.a"]}) is None
    assert plain_rules({**dedupe, "blocking_rules_to_generate_predictions": []}) is None


def test_blocking_rules_of_equalities_only_join_on_hashes():
    from pbr.probabilistic import PREDICT_BLOCKING, equality_columns

    assert equality_columns([f"({r}) and l.det <> r.det" for r in PREDICT_BLOCKING]) == [
        "fn", "sn", "dob_year", "det", "dob_md", "dob", "pc", "sn_ph", "fn_ph", "addr_key", "pc_district"]
    assert equality_columns(["l.a = r.a AND (l.b != r.b)"]) == ["a", "b"]
    for rule in ["l.a = r.a or l.b = r.b", "l.a = r.b", "levenshtein(l.a, r.a) < 2", "l.a = r.a and l.b < r.b",
                 "substr(l.a, 1, 2) = substr(r.a, 1, 2)", "l.a = r.a and 1 = 1"]:
        assert equality_columns(["l.x = r.x", rule]) is None, rule


@pytest.mark.parametrize("hash_fn, hashed", [("hash", True), ("length", False)])
def test_blocking_joins_hashes_only_when_no_two_values_share_one(monkeypatch, hash_fn, hashed):
    """With a hash under which values collide (length: every forename of one length) the values
    are joined instead; either way the pairs are Splink's."""
    import duckdb

    import pbr.probabilistic as P

    monkeypatch.setattr(P, "HASH", hash_fn)
    obs = _random_observations(300, 5)
    settings = json.loads(P.model_path().read_text(encoding="utf-8"))
    rules = P.plain_rules(settings)
    con = duckdb.connect()
    linker = P._linker(obs, settings, con)
    want = linker.inference.compute_blocked_pairs_for_predict_chunk().as_pyarrow_table()
    want = sorted(zip(*(want.column(c).to_pylist() for c in ("join_key_l", "join_key_r", "match_key"))))
    assert (P.hashed_keys(con, rules, "unique_id") is not None) is hashed
    got = con.sql(f"SELECT join_key_l, join_key_r, match_key FROM {P.block(con, rules)}").fetchall()
    assert len(want) > 300 and sorted(got) == want
    assert con.sql(f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{P.HASHED_TABLE}'").fetchall() == [(0,)]


def test_splink_is_given_the_columns_its_comparisons_read():
    import pbr.probabilistic as P

    settings = json.loads(P.model_path().read_text(encoding="utf-8"))
    cols = _random_observations(10, 1).column_names
    scored = P.scored_columns(settings, cols)
    assert {"unique_id", "fn", "fn_alts", "sn", "sn_ph", "dob", "dob_year", "dob_md", "dob_dm", "sex", "pc",
            "pc_sector", "pc_district", "addr_key"} == set(scored)
    assert scored == [c for c in cols if c in scored]
    assert P.scored_columns({**settings, "additional_columns_to_retain": ["source"]}, cols).count("source") == 1


@pytest.mark.parametrize("seed", [3, 4])
def test_a_pair_scores_the_same_whichever_of_it_is_l(seed):
    """The refresh numbers its observations in no set order (probabilistic.observations,
    ordered=False), so which of a pair Splink sees as `l` varies: the scores must not."""
    import pyarrow as pa

    from pbr.probabilistic import predict

    obs = _random_observations(400, seed)
    n = obs.num_rows
    flipped = obs.set_column(0, "unique_id", pa.array([n + 1 - i for i in obs.column("unique_id").to_pylist()],
                                                      pa.int64()))
    scores = lambda pairs, key: {  # noqa: E731
        frozenset((key(a), key(b))): (p, w) for a, b, p, w in zip(
            *(pairs.column(c).to_pylist() for c in ("unique_id_l", "unique_id_r", "match_probability", "match_weight")))}
    want = scores(predict(obs, 0.01), lambda i: i)
    got = scores(predict(flipped, 0.01), lambda i: n + 1 - i)
    assert len(want) > 500
    assert got == want


def test_refresh_links_the_same_whichever_way_round_its_observations_are_numbered(pipeline_at, tmp_path, monkeypatch):
    """The same delivery refreshed with the observations numbered in their sorted order and in
    its reverse: every scored pair comes out the other way round, and the people, the links and
    the twin pairs refused are the same."""
    import pyarrow as pa

    import pbr.probabilistic_links as links
    from pbr.probabilistic import observations, predict

    home = dict(sex="M", address="7 Wellgate Terrace", postcode="S60 2LU")
    bob = person("Bob", "Ramsden", "1981-04-17", sex="M", address="14 Mill Lane", postcode="S66 2QT")
    robert = person("Robert", "Ramsden", "1981-04-17", sex="M", address="3 Cedar Close, Maltby", postcode="S66 8RJ")
    tables = dict(
        attendance=[attendance(person("Oliver", "Hirst", "2014-06-09", **home), "A100000000001", "2024/25", "summer"),
                    attendance(person("Oscar", "Hirst", "2014-06-09", **home), "A100000000002", "2024/25", "summer"),
                    attendance(person("Olvier", "Hirst", "2014-06-09", **home), "A100000000003", "2024/25", "summer")],
        asb=[asb(bob, "PR1", "E1", "2025-05-02", "asb_incident")] + filler(),
        benefits=[benefit(robert, "AB123456C", "jsa", "2024-01-01")])
    config = {"linkage": {"threshold": 0.5, "review_min": 0.001}}

    def refreshed(reverse: bool):
        scored: dict[tuple[str, str], float] = {}

        def numbered(con, clusters, ordered=True):
            obs = observations(con, clusters, ordered=True)
            if reverse:
                obs = obs.take(list(range(obs.num_rows - 1, -1, -1)))
                obs = obs.set_column(0, "unique_id", pa.array(
                    range(1, obs.num_rows + 1), pa.int64()))
            numbered.nodes = {u: f"{s}:{k}" for u, s, k in zip(*(obs.column(c).to_pylist()
                                                                 for c in ("unique_id", "source", "source_key")))}
            return obs

        def scoring(obs, threshold, **kw):
            pairs = predict(obs, threshold, **kw)
            for a, b, p in zip(*(pairs.column(c).to_pylist() for c in ("unique_id_l", "unique_id_r", "match_probability"))):
                scored[(numbered.nodes[a], numbered.nodes[b])] = p
            return pairs

        monkeypatch.setattr(links, "observations", numbered)
        monkeypatch.setattr(links, "predict", scoring)
        where = tmp_path / ("reversed" if reverse else "sorted")
        where.mkdir()
        run = pipeline_at(where).refresh("2025-07", config=config, **tables)
        return run, scored

    run_sorted, sorted_pairs = refreshed(False)
    run_reversed, reversed_pairs = refreshed(True)
    assert len(sorted_pairs) >= 4  # the twins and the typo (three pairs), Bob and Robert
    assert {(b, a): p for (a, b), p in sorted_pairs.items()} == reversed_pairs  # each pair the other way round
    assert run_reversed.person_ids() == run_sorted.person_ids()
    assert run_reversed.summary["linkage"] == run_sorted.summary["linkage"]
    assert run_sorted.summary["linkage"]["twin_pairs_refused"] >= 1
    ids = run_sorted.person_ids()
    assert ids[("asb", "PR1")] == ids[("benefits", "AB123456C")]
    assert ids[("attendance", "A100000000001")] != ids[("attendance", "A100000000002")]


def test_pairs_take_each_sides_fields_from_the_observation_they_name():
    """person_pair's fields come from the observations by position (their ids are 1..n in row
    order); observations numbered otherwise are refused rather than misread."""
    import pyarrow as pa

    from pbr.probabilistic_links import PAIR_FIELDS, _pairs_with_fields

    obs = _random_observations(50, 7)
    pairs = pa.table({"unique_id_l": pa.array([1, 7, 30], pa.int64()), "unique_id_r": pa.array([2, 49, 50], pa.int64()),
                      "match_probability": [0.1, 0.5, 0.9], "match_weight": [-3.0, 0.0, 3.2]})
    got = _pairs_with_fields(obs, pairs)
    row = {u: i for i, u in enumerate(obs.column("unique_id").to_pylist())}
    for c in PAIR_FIELDS:
        for side in ("l", "r"):
            want = [obs.column(c)[row[u]].as_py() for u in pairs.column(f"unique_id_{side}").to_pylist()]
            assert got.column(f"{c}_{side}").to_pylist() == want, (c, side)
    assert got.column("match_probability").to_pylist() == [0.1, 0.5, 0.9]
    assert got.column("source_key_l").to_pylist() == ["K0", "K6", "K29"]  # unique ids 1, 7, 30
    shuffled = obs.set_column(0, "unique_id", pa.array(list(range(obs.num_rows, 0, -1)), pa.int64()))
    with pytest.raises(ValueError):
        _pairs_with_fields(shuffled, pairs)
