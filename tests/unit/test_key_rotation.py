"""The key rotation's parts on tiny frames: which columns hold tokens, the map from bronze's values, a table's tokens
replaced (an unknown one counted, NULL kept), and the home key's replacement. (A whole rotation on a generated bank:
tests/integration/test_key_rotation.py.)"""

from __future__ import annotations

import hashlib

from jobs import keys
from jobs.key_rotation import identifier_values, retokenized, token_map
from jobs.unify.tokenize import token_kind

OLD, NEW = "old-key-" + "a1b2c3d4e5f6g7h8" * 2, "new-key-" + "z9y8x7w6v5u4t3s2" * 2


def h(key: str, kind: str, value: str) -> str:
    return hashlib.sha256(f"{key}|{kind}|{value}".encode()).hexdigest()


def test_token_columns_are_known_by_their_names():
    assert [token_kind(c) for c in ("name_token", "email_token_a", "national_id_token_b", "street_token")] == \
        ["name", "email", "national_id", "street"]
    assert token_kind("customer_id") is token_kind("match_token") is token_kind("tokens") is None


def test_the_map_covers_each_records_values_and_a_customers_given_name_with_any_of_its_surnames(spark):
    records = spark.createDataFrame(
        [("deposits", "1", "Ann", "Lee", "ann@x.org", None, "123456789", "1 oak st"),
         ("cards", "7", "Anna", None, "ann@x.org", "5551234567", None, None)],
        "silo string, silo_customer_id string, first_name string, last_name string, email_norm string, "
        "phone_norm string, national_id_norm string, street string")
    crosswalk = spark.createDataFrame([("deposits", "1", "CU1"), ("cards", "7", "CU1")],
                                      "silo string, silo_customer_id string, customer_id string")
    values = {tuple(r) for r in identifier_values(records, crosswalk).collect()}
    assert {("name", "anna lee"), ("name", "ann"), ("name", "anna"), ("email", "ann@x.org"),
            ("phone", "5551234567"), ("national_id", "123456789"), ("street", "1 oak st")} <= values
    mapping = {(r.kind, r.old): r.new for r in token_map(identifier_values(records, crosswalk), OLD, NEW).collect()}
    assert mapping[("email", h(OLD, "email", "ann@x.org"))] == h(NEW, "email", "ann@x.org")
    assert mapping[("email", h(NEW, "email", "ann@x.org"))] == h(NEW, "email", "ann@x.org")  # a resumed rotation


def test_a_table_gets_the_new_tokens_and_an_unknown_token_is_counted_not_kept(spark):
    mapping = spark.createDataFrame([("email", h(OLD, "email", "a@x"), h(NEW, "email", "a@x"))],
                                    "kind string, old string, new string")
    table = spark.createDataFrame([("CU1", h(OLD, "email", "a@x"), 1), ("CU2", None, 2), ("CU3", "f" * 64, 3)],
                                  "customer_id string, email_token string, n int")
    out = {r.customer_id: r for r in retokenized(table, mapping).collect()}
    assert out["CU1"].email_token == h(NEW, "email", "a@x") and out["CU1"]._unmapped == 0
    assert out["CU2"].email_token is None and out["CU2"]._unmapped == 0
    assert out["CU3"].email_token is None and out["CU3"]._unmapped == 1
    assert [out[c].n for c in ("CU1", "CU2", "CU3")] == [1, 2, 3]
    assert list(retokenized(table, mapping).columns) == ["customer_id", "email_token", "n", "_unmapped"]


def test_the_home_key_is_replaced_whole_and_a_stopped_rotation_resumes_with_the_same_key(tmp_path):
    old = keys.home_key(tmp_path)
    pending = keys.pending_home_key(tmp_path)
    assert pending != old and keys.pending_home_key(tmp_path) == pending   # resumed: the same new key
    keys.install_home_key(tmp_path)
    assert keys.home_key(tmp_path) == pending
    assert [p.name for p in (tmp_path / "secrets").iterdir()] == ["tokenization.key"]
    assert keys.fingerprint(old) != keys.fingerprint(pending) and old not in keys.fingerprint(old)
