import datetime as dt

from jobs.unify.identity import resolve

SCHEMA = ("silo string, silo_customer_id string, first_name string, last_name string, name_key string, "
          "birth_date date, gender string, postcode string, email_norm string, phone_norm string, "
          "national_id_norm string")
B1, B2 = dt.date(1980, 1, 2), dt.date(1990, 5, 6)


def _records(spark, rows):
    return spark.createDataFrame(rows, SCHEMA)


def test_records_link_by_national_id_email_or_name_and_birth_date(spark):
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
    xwalk = {(r.silo, r.silo_customer_id): r for r in resolve(_records(spark, rows)).collect()}
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


def test_links_are_transitive_across_rules(spark):
    # D1 -nid- C-1 -email- L1: one person although D1 and L1 share no key directly
    rows = [
        ("deposits", "D1", "A", "B", "a b", B1, None, None, None, None, "123456789"),
        ("cards", "C-1", "A", "B", "a b", None, None, None, "ab@x.com", None, "123456789"),
        ("lending", "L1", "Z", "Q", "z q", None, None, None, "ab@x.com", None, None),
    ]
    ids = {r.customer_id for r in resolve(_records(spark, rows)).collect()}
    assert len(ids) == 1


def test_golden_ids_are_stable_across_runs(spark):
    rows = [("deposits", "D9", "A", "B", "a b", B1, None, None, "q@x.com", None, None)]
    first = resolve(_records(spark, rows)).collect()[0].customer_id
    second = resolve(_records(spark, rows)).collect()[0].customer_id
    assert first == second and first.startswith("CU")
