"""The probabilistic side of identity resolution: the Fellegi-Sunter weights (jobs/unify/linkage.py), the identity
policy that turns them into links, clerical review and a reviewer's decisions (jobs/unify/review.py). Masters this
small are scored with the prior model (schemas/identity/model.json)."""

import datetime as dt
import json

import pytest

from jobs.unify import review
from jobs.unify.identity import resolution
from jobs.unify.linkage import identity_folder, load_policy

SCHEMA = ("silo string, silo_customer_id string, first_name string, last_name string, name_key string, "
          "birth_date date, gender string, postcode string, email_norm string, phone_norm string, "
          "national_id_norm string, street string, locality string")
B1, B2 = dt.date(1980, 1, 2), dt.date(1990, 5, 6)


def rec(silo, sid, first, last, dob, postcode=None, email=None, phone=None, nid=None, street=None, locality=None):
    return (silo, sid, first, last, f"{first} {last}".lower(), dob, None, postcode, email, phone, nid, street,
            locality)


def resolved(lh, rows, **kwargs):
    result = resolution(lh.spark.createDataFrame(rows, SCHEMA), lh.scratch, **kwargs)
    crosswalk = {(r.silo, r.silo_customer_id): r for r in result.crosswalk.collect()}
    return crosswalk, {(r.a, r.b): r for r in result.review.collect()}


def together(crosswalk, *keys) -> bool:
    return len({crosswalk[k].customer_id for k in keys}) == 1


def test_given_name_and_surname_swapped_are_linked_by_their_weight(lh):
    # "Doe Jane" in one silo, "Jane Doe" in the other, the same birth date and address: no rule links them
    rows = [rec("deposits", "D1", "Doe", "Jane", B1, "11111", street="12 oak street", locality="salem"),
            rec("cards", "C-1", "Jane", "Doe", B1, "11111", street="12 oak street", locality="salem")]
    crosswalk, _ = resolved(lh, rows)
    assert together(crosswalk, ("deposits", "D1"), ("cards", "C-1"))
    linked = crosswalk[("cards", "C-1")]
    assert linked.match_rule == "probabilistic"
    assert linked.match_probability > 0.999
    assert "first: swapped with the surname" in linked.match_evidence


def test_a_different_national_id_links_only_where_the_policy_says(lh, tmp_path):
    rows = [
        # everything but the national id the same: name, birth date, email, phone, postcode
        rec("deposits", "D1", "Ann", "Hill", B1, "22222", "ann@x.com", "5551234567", "234567891"),
        rec("cards", "C-1", "Ann", "Hill", B1, "22222", "ann@x.com", "5551234567", "876543219"),
        # name, birth date and postcode alone: under the policy's weight for a different national id
        rec("deposits", "D2", "Tom", "Reed", B2, "33333", nid="345678912"),
        rec("cards", "C-2", "Tom", "Reed", B2, "33333", nid="912345678"),
    ]
    crosswalk, to_review = resolved(lh, rows)
    assert together(crosswalk, ("deposits", "D1"), ("cards", "C-1"))
    assert crosswalk[("cards", "C-1")].match_rule == "different_national_id"
    assert "nid: different" in crosswalk[("cards", "C-1")].match_evidence
    assert not together(crosswalk, ("deposits", "D2"), ("cards", "C-2"))
    assert ("cards:C-2", "deposits:D2") in to_review  # strong enough to be worth a reviewer's look

    # A stricter policy (the bar raised above the first pair's weight): the first pair stays apart too.
    policy = json.loads((identity_folder() / "policy.json").read_text())
    policy["different_national_id"]["min_match_weight"] = 99.0
    strict = tmp_path / "policy.json"
    strict.write_text(json.dumps(policy))
    crosswalk, _ = resolved(lh, rows, policy=load_policy(strict))
    assert not together(crosswalk, ("deposits", "D1"), ("cards", "C-1"))


def test_twins_stay_apart_however_much_else_agrees(lh):
    # twins: one surname, birth date, postcode, email and phone, different given names and national ids
    rows = [rec("deposits", "D1", "Lisa", "Moore", B2, "33333", "moores@x.com", "5559876543", "234567891"),
            rec("cards", "C-1", "Mark", "Moore", B2, "33333", "moores@x.com", "5559876543", "876543219")]
    crosswalk, to_review = resolved(lh, rows)
    assert not together(crosswalk, ("deposits", "D1"), ("cards", "C-1"))
    assert not to_review


def test_a_reviewers_decision_is_honoured_by_the_next_run(lh, tmp_path, monkeypatch):
    from jobs.cli import main
    from jobs.publish import publish

    day = dt.date(2026, 6, 30)
    rows = [rec("deposits", "D4", "Eva", "Long", B1, "44444"),      # a birth-date typo: a grey-zone pair
            rec("lending", "L4", "Eva", "Long", dt.date(1980, 1, 3), "44444"),
            rec("deposits", "D5", "Bo", "Ray", B1, nid="456789123"),  # one national id: linked by the rule
            rec("cards", "C-5", "Bo", "Ray", B1, nid="456789123")]
    records = lh.spark.createDataFrame(rows, SCHEMA)
    first = resolution(records, lh.scratch)
    xw = {r.silo_customer_id: r for r in first.crosswalk.collect()}
    assert xw["D4"].customer_id != xw["L4"].customer_id and xw["D5"].customer_id == xw["C-5"].customer_id

    # The silver step's review rows: tokens, never the clear values.
    publish(lh, review.REVIEW_TABLE, review.review_rows(first.review, records, "k", day), day)
    listed = lh.read(review.REVIEW_TABLE).collect()
    assert [(r.silo_customer_id_a, r.silo_customer_id_b) for r in listed] == [("D4", "L4")]
    assert listed[0].name_token_a == listed[0].name_token_b and "Eva" not in str(listed[0].asDict())
    grey_pair = listed[0].pair_id

    # A decision on the rule-linked pair too: it has to be put up for review first.
    monkeypatch.setenv("MARKETOFONE_HOME", str(lh.settings.home))
    answers = tmp_path / "decisions.csv"
    answers.write_text(f"pair_id,decision,reviewer,note\n{grey_pair},same,r.one,same person: moved\n"
                       "IPNOTREVIEWED,different,r.one,\n")
    assert main(["identity-review", "--decisions", str(answers)]) == 2   # refused, nothing kept
    assert not lh.exists(review.DECISION_TABLE)

    answers.write_text(f"pair_id,decision,reviewer,note\n{grey_pair},same,r.one,same person: moved\n")
    assert main(["identity-review", "--decisions", str(answers)]) == 0
    decided = review.decisions(lh.read(review.DECISION_TABLE))
    again = {r.silo_customer_id: r for r in resolution(records, lh.scratch, decisions=decided).crosswalk.collect()}
    assert again["D4"].customer_id == again["L4"].customer_id
    assert again["L4"].match_rule == "reviewer"

    # "different" keeps apart a pair a rule links.
    different = lh.spark.createDataFrame([("cards:C-5", "deposits:D5", "different")],
                                         "a string, b string, decision string")
    apart = {r.silo_customer_id: r for r in resolution(records, lh.scratch, decisions=different).crosswalk.collect()}
    assert apart["D5"].customer_id != apart["C-5"].customer_id


@pytest.mark.parametrize("text, message", [
    ("pair_id,decision\nIP1,maybe\n", "decision must be one of same, different"),
    ("pair_id,decision\nIP1,same\nIP1,different\n", "decided already on line 2"),
    ("pair,decision\nIP1,same\n", "the header needs pair_id"),
    ("pair_id,decision\n", "no decisions"),
])
def test_a_decision_file_is_checked_line_by_line(tmp_path, text, message):
    path = tmp_path / "d.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        review.read_decision_file(path)


def test_the_identity_policy_is_checked(tmp_path):
    policy = load_policy()
    assert policy.review_weight < policy.link_weight <= policy.different_national_id_weight
    assert "data-entry error" in policy.different_national_id_description
    assert policy.different_national_id_requires[1] == {"dob": ("same",)}
    raw = json.loads((identity_folder() / "policy.json").read_text())
    raw["different_national_id"]["requires_one_of"][1]["dob"] = ["same", "close enough"]
    (tmp_path / "p.json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match=r"requires 'dob' at levels \['close enough'\]"):
        load_policy(tmp_path / "p.json")
    raw = json.loads((identity_folder() / "policy.json").read_text())
    raw["clerical_review"]["min_match_weight"] = 30
    (tmp_path / "p.json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="the weights must rise"):
        load_policy(tmp_path / "p.json")


def test_relatives_at_one_address_never_cross_two_national_ids(lh):
    # the same given name, email, phone and address, another surname and birth date: a household, not one person,
    # however high the weight of all it shares (it is above the policy's bar: only the required levels stop it)
    rows = [rec("deposits", "D1", "Ryan", "Ramos", B1, "25571", "ramos.home@x.com", "5551390206", "391532218",
                street="894 fairview street", locality="troy"),
            rec("deposits", "D2", "Ryan", "Miller", dt.date(1980, 5, 31), "25571", "ramos.home@x.com",
                "5551390206", "492403253", street="894 fairview street", locality="troy")]
    crosswalk, to_review = resolved(lh, rows)
    assert not together(crosswalk, ("deposits", "D1"), ("deposits", "D2"))
    assert to_review[("deposits:D1", "deposits:D2")].match_weight >= load_policy().different_national_id_weight


def test_the_prior_model_has_the_codes_comparisons_and_every_level_estimated():
    from jobs.unify.linkage import comparisons, prior_model_path

    prior = json.loads(prior_model_path().read_text())
    shipped = {c["output_column_name"]: [(lvl.get("label_for_charts"), lvl.get("sql_condition"))
                                         for lvl in c["comparison_levels"]] for c in prior["comparisons"]}
    code = {c.get_comparison("spark").output_column_name: [(lvl.label_for_charts, lvl.sql_condition)
                                                           for lvl in c.get_comparison("spark").comparison_levels]
            for c in comparisons()}
    assert shipped == code   # else: benchmarks/identity_resolution.py --save-prior
    unestimated = [(c["output_column_name"], lvl["label_for_charts"]) for c in prior["comparisons"]
                   for lvl in c["comparison_levels"]
                   if not lvl.get("is_null_level") and not (lvl.get("m_probability") and lvl.get("u_probability"))]
    assert unestimated == []


def _gammas(spark, name: str, pairs: list[tuple]) -> list[int]:
    """The code's comparison `name` evaluated on (left, right) value pairs, as Splink's CASE would."""
    from jobs.unify.linkage import comparisons

    comparison = next(c.get_comparison("spark") for c in comparisons()
                      if c.get_comparison("spark").output_column_name == name)
    whens = " ".join(f"WHEN {lvl.sql_condition} THEN {lvl.comparison_vector_value}"
                     for lvl in comparison.comparison_levels if lvl.sql_condition != "ELSE")
    rows = spark.createDataFrame(pairs, f"{name}_l string, {name}_r string")
    return [r.g for r in rows.selectExpr(f"CASE {whens} ELSE 0 END AS g").collect()]


def test_a_street_shares_its_level_by_house_number_and_a_word_of_the_street(lh):
    pairs = [("12 fairview street", "12 fairview avenue"),   # the number and a word: the fourth level
             ("14 fairview street", "12 fairview avenue"),   # another number
             ("12 fairview street", "12 oak avenue"),        # no word of four letters or more in common
             ("12 oak street", "12 oak street"), ("12 oak street", "12 oak streets"), (None, "12 oak street"),
             ("", "12 fairview street")]
    assert _gammas(lh.spark, "street", pairs) == [1, 0, 0, 3, 2, -1, 0]


def test_no_comparison_level_can_fail_while_it_is_evaluated(lh):
    # An array subscript (`split(x, ' ')[0]`) is planned by the embedded engine as a bounds check that calls
    # raise_error, and on a large sample that call failed at random ("raise_error expects a single UTF-8 string
    # argument"), failing the silver step. A level has no reason to raise: none of the model's may plan one.
    from jobs.unify.linkage import FIELDS, comparisons

    columns = ", ".join(f"{f}_{side} string" for f in FIELDS for side in "lr")
    rows = lh.spark.createDataFrame([tuple("1" for _ in range(2 * len(FIELDS)))], columns)
    for comparison in (c.get_comparison("spark") for c in comparisons()):
        for level in comparison.comparison_levels:
            if level.sql_condition == "ELSE":
                continue
            plan = rows.selectExpr(f"CASE WHEN {level.sql_condition} THEN 1 ELSE 0 END AS g")._explain_string(
                extended=True)
            assert "raise_error" not in plan.lower(), (comparison.output_column_name, level.label_for_charts)
