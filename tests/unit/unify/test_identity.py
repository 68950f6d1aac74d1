import datetime as dt

import pandas as pd
import pytest
from pyspark.sql import functions as F

from jobs.unify.identity import names_agree, resolve
from jobs.unify.identity_quality import pair_precision_recall
from jobs.unify.standardize import valid_national_id

SCHEMA = ("silo string, silo_customer_id string, first_name string, last_name string, name_key string, "
          "birth_date date, gender string, postcode string, email_norm string, phone_norm string, "
          "national_id_norm string")
B1, B2 = dt.date(1980, 1, 2), dt.date(1990, 5, 6)


def _records(spark, rows):
    return spark.createDataFrame(rows, SCHEMA)


@pytest.fixture
def resolved(lh):
    """rows -> crosswalk rows, resolved the way the silver step does it (each round stored in scratch)."""
    def run(rows):
        return resolve(_records(lh.spark, rows), lh.scratch).collect()
    return run


def rec(silo, sid, first, last, dob, postcode=None, email=None, phone=None, nid=None):
    name_key = f"{first} {last}".lower()
    return (silo, sid, first, last, name_key, dob, None, postcode, email, phone, nid)


def crosswalk(resolved, rows) -> dict:
    return {(r.silo, r.silo_customer_id): r for r in resolved(rows)}


def together(xwalk, *keys) -> bool:
    return len({xwalk[k].customer_id for k in keys}) == 1


def test_records_link_by_national_id_email_or_name_and_birth_date(resolved):
    rows = [
        # Ann: the same national id in deposits and cards; lending knows her email only
        ("deposits", "D1", "Ann", "Lee", "ann lee", B1, "F", "11111", "ann@x.com", "5550001111", "111223333"),
        ("cards", "C-1", "Ann", "Lee", "ann lee", B1, None, "11111", None, "5550001111", "111223333"),
        ("lending", "100001", "Ann", "Lee", "ann lee", B1, None, "11111", "ann@x.com", None, None),
        # Bob: no national id nor email anywhere, the same name and birth date in two silos
        ("deposits", "D2", "Bob", "Ray", "bob ray", B2, "M", "22222", None, None, None),
        ("lending", "100002", "Bob", "Ray", "bob ray", B2, None, "22222", None, None, None),
        # Cy: known to one silo only
        ("cards", "C-3", "Cy", "Day", "cy day", B2, None, "33333", "cy@x.com", None, "999887777"),
        # Dee shares Bob's name but not his birth date: a different person
        ("cards", "C-4", "Bob", "Ray", "bob ray", B1, None, "44444", None, None, None),
    ]
    xwalk = crosswalk(resolved, rows)
    assert len(xwalk) == len(rows)  # every silo record gets a golden id
    ann = {xwalk[k].customer_id for k in [("deposits", "D1"), ("cards", "C-1"), ("lending", "100001")]}
    bob = {xwalk[k].customer_id for k in [("deposits", "D2"), ("lending", "100002")]}
    assert len(ann) == 1 and len(bob) == 1
    others = {xwalk[("cards", "C-3")].customer_id, xwalk[("cards", "C-4")].customer_id}
    assert len(ann | bob | others) == 4
    assert xwalk[("cards", "C-1")].match_rule == "national_id"
    assert xwalk[("lending", "100001")].match_rule == "email"
    assert xwalk[("lending", "100002")].match_rule == "name_dob"
    assert xwalk[("cards", "C-3")].match_rule == "single_record"


# -- one positive and one guarded negative case per rule -------------------------------------------
def test_national_id_links_despite_other_differences(resolved):
    rows = [rec("deposits", "D1", "Jane", "Doe", B1, "11111", "jane@x.com", "5550001111", "234567891"),
            rec("cards", "C-1", "Janet", "Smith", B1, "99999", "js@work.com", "5559999999", "234567891")]
    xwalk = crosswalk(resolved, rows)
    assert together(xwalk, ("deposits", "D1"), ("cards", "C-1"))
    assert xwalk[("cards", "C-1")].match_rule == "national_id"


@pytest.mark.parametrize("placeholder", ["000000000", "123456789", "999999999", "000-12-3456"])
def test_a_placeholder_national_id_links_nobody(resolved, placeholder):
    rows = [rec("cards", "C-1", "Ann", "Lee", B1, nid=placeholder),
            rec("cards", "C-2", "Raj", "Patel", B2, nid=placeholder)]
    xwalk = crosswalk(resolved, rows)
    assert not together(xwalk, ("cards", "C-1"), ("cards", "C-2"))
    assert {r.match_rule for r in xwalk.values()} == {"single_record"}


def test_a_shared_national_id_with_another_birth_date_and_name_is_no_link(resolved):
    rows = [rec("deposits", "D1", "Ann", "Lee", B1, nid="234567891"),
            rec("lending", "L1", "Omar", "Diaz", B2, nid="234567891")]
    assert not together(crosswalk(resolved, rows), ("deposits", "D1"), ("lending", "L1"))


def test_national_id_typo_links_with_birth_date_and_name(resolved):
    rows = [rec("deposits", "D1", "Maria", "Lopez", B1, "11111", nid="234567891"),
            rec("cards", "C-1", "Maria", "Garcia", B1, "22222", nid="234657891"),  # two digits transposed
            rec("lending", "L1", "Pedro", "Lopez", B2, "11111", nid="234567819")]  # another name and birth date
    xwalk = crosswalk(resolved, rows)
    assert together(xwalk, ("deposits", "D1"), ("cards", "C-1"))
    assert xwalk[("cards", "C-1")].match_rule == "national_id_typo"
    assert not together(xwalk, ("deposits", "D1"), ("lending", "L1"))


def test_email_links_with_birth_date_and_given_name(resolved):
    # a nickname in one silo and the maiden name in the other: the shared email carries the link
    rows = [rec("deposits", "D1", "Robert", "Hill", B1, "11111", "rob.hill@x.com", nid="234567891"),
            rec("lending", "L1", "Bob", "Stone", B1, "22222", "rob.hill@x.com")]
    xwalk = crosswalk(resolved, rows)
    assert together(xwalk, ("deposits", "D1"), ("lending", "L1"))
    assert xwalk[("lending", "L1")].match_rule == "email"


def test_a_household_email_alone_does_not_merge(resolved):
    rows = [
        # partners: one family address, different birth dates
        rec("deposits", "D1", "Ann", "Hill", B1, "11111", "hill.family@x.com"),
        rec("cards", "C-1", "Tom", "Hill", B2, "11111", "hill.family@x.com"),
        # twins: the same address and birth date, different given names
        rec("deposits", "D2", "Lisa", "Moore", B2, "33333", "moores@x.com"),
        rec("cards", "C-2", "Mark", "Moore", B2, "33333", "moores@x.com"),
    ]
    xwalk = crosswalk(resolved, rows)
    assert not together(xwalk, ("deposits", "D1"), ("cards", "C-1"))
    assert not together(xwalk, ("deposits", "D2"), ("cards", "C-2"))


def test_an_email_shared_by_many_records_identifies_nobody(resolved):
    surnames = ("Hill", "Moore", "Reed", "Stone", "Young", "Baker", "Clark", "Price", "Wood")
    rows = [rec("cards", f"C-{i}", "Ann", surname, B1, email="info@shop.com") for i, surname in enumerate(surnames)]
    xwalk = crosswalk(resolved, rows)
    assert len({r.customer_id for r in xwalk.values()}) == 9


def test_phone_links_with_birth_date_and_given_name(resolved):
    rows = [rec("deposits", "D1", "Katherine", "Reed", B1, "11111", "kr@x.com", "5551234567", "234567891"),
            rec("cards", "C-1", "Kate", "Ried", B1, "22222", "kate@y.com", "5551234567")]
    xwalk = crosswalk(resolved, rows)
    assert together(xwalk, ("deposits", "D1"), ("cards", "C-1"))
    assert xwalk[("cards", "C-1")].match_rule == "phone"


def test_a_recycled_or_household_phone_does_not_merge(resolved):
    rows = [
        # a number that changed hands: another person, another birth date
        rec("deposits", "D1", "Ann", "Lee", B1, "11111", phone="5551234567", nid="234567891"),
        rec("cards", "C-1", "Ann", "Chen", B2, "22222", phone="5551234567"),
        # a twin's household landline: the same birth date, another given name
        rec("deposits", "D2", "Lucas", "Ward", B2, "33333", phone="5557654321", nid="581920374"),
        rec("lending", "L2", "Lucia", "Ward", B2, "33333", phone="5557654321"),
    ]
    xwalk = crosswalk(resolved, rows)
    assert not together(xwalk, ("deposits", "D1"), ("cards", "C-1"))
    assert not together(xwalk, ("deposits", "D2"), ("lending", "L2"))


def test_name_and_birth_date_link_unless_national_ids_conflict(resolved):
    rows = [
        rec("deposits", "D1", "Omar", "Diaz", B1, "11111", nid="234567891"),
        rec("lending", "L1", "Omar", "Diaz", B1, "99999"),
        # the same name and birth date, but another valid national id: another person
        rec("deposits", "D2", "Mei", "Chen", B2, "22222", nid="234567891"[::-1]),
        rec("cards", "C-2", "Mei", "Chen", B2, "22222", nid="581920374"),
    ]
    xwalk = crosswalk(resolved, rows)
    assert together(xwalk, ("deposits", "D1"), ("lending", "L1"))
    assert xwalk[("lending", "L1")].match_rule == "name_dob"
    assert not together(xwalk, ("deposits", "D2"), ("cards", "C-2"))


def test_fuzzy_names_link_with_birth_date_and_postcode(resolved):
    rows = [
        rec("deposits", "D1", "William", "Johnson", B1, "11111"),
        rec("cards", "C-1", "Bill", "Jonhson", B1, "11111"),  # nickname and a transposition
        # the same fuzzy match somewhere else: not enough without the postcode
        rec("deposits", "D2", "Jennifer", "Thompson", B2, "22222"),
        rec("lending", "L2", "Jenny", "Tompson", B2, "33333"),
        # ... nor against a conflicting national id
        rec("deposits", "D3", "Christopher", "Allen", B2, "44444", nid="234567891"),
        rec("cards", "C-3", "Chris", "Alen", B2, "44444", nid="581920374"),
    ]
    xwalk = crosswalk(resolved, rows)
    assert together(xwalk, ("deposits", "D1"), ("cards", "C-1"))
    assert xwalk[("cards", "C-1")].match_rule == "fuzzy_name_dob"
    assert not together(xwalk, ("deposits", "D2"), ("lending", "L2"))
    assert not together(xwalk, ("deposits", "D3"), ("cards", "C-3"))


def test_a_record_without_national_id_never_joins_two_people_with_one(resolved):
    # L1 (no national id) shares Joe Peters' email and, by coincidence, a name and birth date with
    # another Joe Peters (maiden name) whose national id differs: it joins the stronger link only.
    rows = [
        rec("deposits", "D1", "Joe", "Peters", B1, "11111", "joe.p@x.com", nid="234567891"),
        rec("deposits", "D2", "Joe", "Peters", B1, "22222", "joe.g@y.com", nid="581920374"),
        rec("cards", "C-2", "Joe", "Grant", B1, "22222", "joe.g@y.com", nid="581920374"),
        rec("lending", "L1", "Joe", "Peters", B1, "33333", "joe.p@x.com"),
    ]
    xwalk = crosswalk(resolved, rows)
    assert together(xwalk, ("deposits", "D1"), ("lending", "L1"))
    assert together(xwalk, ("deposits", "D2"), ("cards", "C-2"))
    assert not together(xwalk, ("deposits", "D1"), ("deposits", "D2"))
    assert xwalk[("lending", "L1")].match_rule == "email"
    assert xwalk[("deposits", "D2")].match_rule == "national_id"


def test_links_are_transitive_across_rules(resolved):
    # D1 -national id- C-1 -email- L1: one person although D1 and L1 share no identifier
    rows = [
        rec("deposits", "D1", "Ann", "Lee", B1, nid="234567891"),
        rec("cards", "C-1", "Ann", "Lee", B1, email="ab@x.com", nid="234567891"),
        rec("lending", "L1", "Anne", "Wu", B1, email="ab@x.com"),
    ]
    ids = {r.customer_id for r in resolved(rows)}
    assert len(ids) == 1


def test_golden_ids_are_stable_across_runs(lh):
    rows = [("deposits", "D9", "A", "B", "a b", B1, None, None, "q@x.com", None, None)]
    first = resolve(_records(lh.spark, rows), lh.scratch).collect()[0].customer_id
    second = resolve(_records(lh.spark, rows), lh.scratch).collect()[0].customer_id
    assert first == second and first.startswith("CU")


def test_names_agree(spark):
    # (x, y, as given names, as surnames)
    cases = [("robert", "robert", True, True), ("bob", "robert", True, True), ("robert", "bill", False, False),
             ("jonhson", "johnson", True, True), ("johson", "johnson", True, True), ("judy", "jduy", True, True),
             ("lrs", "lars", True, True), ("tim", "tom", False, False), ("mary", "maria", False, False),
             ("ann", "anna", True, True), ("smith", "smyth", True, True), ("lee", "li", False, False),
             ("jennifer", "jenny", True, True), ("steven", "stephen", False, True),
             ("lucas", "lucia", False, False), (None, "x", None, None)]
    df = spark.createDataFrame([(x, y) for x, y, *_ in cases], "x string, y string")
    got = df.select(names_agree(F.col("x"), F.col("y")).alias("given"),
                    names_agree(F.col("x"), F.col("y"), sound_alike=True).alias("surname")).collect()
    assert [(r.given, r.surname) for r in got] == [(given, surname) for _, _, given, surname in cases]


def test_only_valid_national_ids_are_kept(spark):
    values = ["234567891", "000123456", "666123456", "123001234", "123450000", "123456789", "111111111",
              "900701234", "12345678", None]
    df = spark.createDataFrame([(v,) for v in values], "v string")
    got = [r.ok for r in df.select(valid_national_id(F.col("v")).alias("ok")).collect()]
    assert got == ["234567891", None, None, None, None, None, None, "900701234", None, None]


# -- the quality metric -----------------------------------------------------------------------------
def test_pair_precision_recall_counts_pairs_per_cluster():
    truth = pd.DataFrame({"silo": ["d", "c", "l", "d", "c", "l"],
                          "silo_customer_id": ["1", "2", "3", "4", "5", "6"],
                          "person_id": [1, 1, 1, 2, 2, 3]})
    # person 1 split in two, person 2 merged with person 3; record l/6 quarantined (absent)
    xwalk = pd.DataFrame({"silo": ["d", "c", "l", "d", "c"], "silo_customer_id": ["1", "2", "3", "4", "5"],
                          "customer_id": ["A", "A", "B", "C", "C"]})
    q = pair_precision_recall(xwalk, truth)
    assert q["silo_records"] == 5 and q["left_out"] == 1 and q["unknown"] == 0
    assert q["true_pairs"] == 3 + 1  # person 1: 3 pairs, person 2: 1
    assert q["predicted_pairs"] == 1 + 1 and q["correct_pairs"] == 2
    assert q["precision"] == 1.0 and q["recall"] == 0.5
    xwalk.loc[4, "customer_id"] = "A"  # c/5 (person 2) wrongly joins person 1's cluster
    q = pair_precision_recall(xwalk, truth)
    assert q["predicted_pairs"] == 3 and q["correct_pairs"] == 1
    assert q["precision"] == pytest.approx(1 / 3) and q["recall"] == 0.25
    empty = pair_precision_recall(xwalk.iloc[:0], truth)
    assert empty["true_pairs"] == empty["predicted_pairs"] == 0 and empty["left_out"] == 6
    assert empty["precision"] == empty["recall"] == 1.0


def test_a_golden_id_once_given_stays_when_a_record_with_a_smaller_id_joins_or_a_cluster_splits(spark):
    import datetime as dt

    from jobs.unify.identity import keep_known_ids

    day = dt.date(2026, 6, 30)
    known = spark.createDataFrame([
        ("deposits", "D1", "CU_OLD", day), ("lending", "7", "CU_OLD", day),   # one person so far
        ("deposits", "D2", "CU_TWO", day)],
        "silo string, silo_customer_id string, customer_id string, _known_on date")
    resolved = spark.createDataFrame([
        ("cards", "C-1", "CU_NEW", "email"), ("deposits", "D1", "CU_NEW", "email"),  # a first card joins D1
        ("lending", "7", "CU_SPLIT", "single_record"),                                 # split off D1's cluster
        ("deposits", "D2", "CU_TWO", "single_record"), ("deposits", "D3", "CU_THREE", "single_record")],
        "silo string, silo_customer_id string, customer_id string, match_rule string")
    got = {(r.silo, r.silo_customer_id): r.customer_id for r in keep_known_ids(resolved, known).collect()}
    assert got == {("cards", "C-1"): "CU_OLD", ("deposits", "D1"): "CU_OLD", ("lending", "7"): "CU_SPLIT",
                   ("deposits", "D2"): "CU_TWO", ("deposits", "D3"): "CU_THREE"}


def test_golden_record_versions_keep_what_each_day_knew(spark):
    """A's postcode changes on day 2 (a more trusted silo's record arrived), B stays, C is new, D is gone.
    Versions are written only for changes; re-running day 1 after day 2 gives day 1's versions again."""
    import datetime as dt

    from jobs.unify.customers import VERSIONED, customer_versions, newest_versions

    day1, day2 = dt.date(2026, 6, 30), dt.date(2026, 7, 1)
    schema = ("customer_id string, name_token string, email_token string, phone_token string, "
              "national_id_token string, street_token string, birth_date date, gender string, postcode string, "
              "locality string, state string, silos array<string>, source_records long")

    def golden(*rows):
        return spark.createDataFrame([(c, "n", "e", "p", "i", "s", dt.date(1980, 1, 1), "F", pc, "salem", "OR",
                                       ["deposits"], 1) for c, pc in rows], schema)

    first = customer_versions(golden(("A", "11111"), ("B", "22222"), ("D", "44444")), None, day1)
    assert {r.customer_id for r in first.collect()} == {"A", "B", "D"}
    second = customer_versions(golden(("A", "99999"), ("B", "22222"), ("C", "33333")), first, day2)
    assert {(r.customer_id, r.postcode, r._removed) for r in second.collect()} == {
        ("A", "99999", False), ("C", "33333", False), ("D", None, True)}
    both = first.unionByName(second)
    on_day1 = {r.customer_id: r.postcode for r in newest_versions(both.where(f"_snapshot_date <= '{day1}'")).collect()}
    on_day2 = {r.customer_id: r.postcode for r in newest_versions(both).collect()}
    assert on_day1 == {"A": "11111", "B": "22222", "D": "44444"}
    assert on_day2 == {"A": "99999", "B": "22222", "C": "33333"}
    again = customer_versions(golden(("A", "11111"), ("B", "22222"), ("D", "44444")), both, day1)
    assert sorted(map(repr, again.select("customer_id", *VERSIONED, "_removed").collect())) == sorted(
        map(repr, first.select("customer_id", *VERSIONED, "_removed").collect()))
