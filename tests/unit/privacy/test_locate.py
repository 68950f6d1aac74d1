"""Which rows of a table name the people being erased: read off the table's columns."""

import pytest

from jobs.privacy.locate import names_people, person_condition
from jobs.privacy.subjects import Identifiers, UnknownSubject, parse_reference

ERASED = Identifiers(golden=frozenset({"CU0000000000AAAA"}),
                     customers=frozenset({("deposits", "D1000001")}),
                     accounts=frozenset({("deposits", "DA000000011"), ("lending", "L00000001")}))


def _matching(spark, full_name, rows, schema):
    df = spark.createDataFrame(rows, schema)
    return sorted(r[0] for r in df.where(person_condition(full_name, df.columns, ERASED)).collect())


def test_silver_rows_by_golden_id_silo_id_and_account(spark):
    rows = [("a", "CU0000000000AAAA", "cards", "C-1", "CA1"),      # the golden id
            ("b", "CU0000000000BBBB", "deposits", "D1000001", "DA9"),   # the silo id (a row not yet re-linked)
            ("c", None, "deposits", "D9", "DA000000011"),               # the account
            ("d", "CU0000000000BBBB", "lending", "D1000001", "L9"),      # the same id in another silo: someone else
            ("e", "CU0000000000BBBB", "deposits", "D9", "L00000001")]    # a loan number on a deposit row: no
    assert _matching(spark, "silver.account", rows,
                     "k string, customer_id string, silo string, silo_customer_id string, account_id string") == \
        ["a", "b", "c"]


def test_bronze_rows_by_the_silos_own_columns_trimmed(spark):
    rows = [("a", "DA000000099", " D1000001 "), ("b", "DA000000011", "D9"), ("c", "DA000000099", "D9")]
    assert _matching(spark, "bronze.deposits_accounts", rows, "k string, account_id string, cif_id string") == \
        ["a", "b"]
    lending = [("a", "L00000001", "100"), ("b", "L9", "100")]
    assert _matching(spark, "quarantine.lending_repayments", lending,
                     "k string, loan_no string, repayment_id string") == ["a"]


def test_review_pairs_and_raw_lines(spark):
    pairs = [("a", "cards", "C-1", "deposits", "D1000001"), ("b", "deposits", "D1000001", "cards", "C-1"),
             ("c", "cards", "C-1", "cards", "C-2")]
    assert _matching(spark, "audit.identity_review", pairs, "k string, silo_a string, silo_customer_id_a string, "
                     "silo_b string, silo_customer_id_b string") == ["a", "b"]
    lines = [("a", 'DA000000011,"D1000001",cut'), ("b", "DA0000000111,D10000012,x"), ("c", None)]
    assert _matching(spark, "quarantine.deposits_accounts", lines, "k string, _raw_line string") == ["a"]


def test_tables_without_a_person_column_are_not_searched():
    assert not names_people("gold.kpi_daily", ["as_of_date", "kpi", "treated"])
    assert person_condition("gold.kpi_daily", ["as_of_date", "kpi"], ERASED) is None
    assert names_people("gold.offers_mobile", ["as_of_date", "customer_id", "rank"])


def test_a_reference_names_a_golden_id_or_a_silo_id():
    assert parse_reference(" deposits:D1000001 ") == ("deposits", "D1000001")
    assert parse_reference("CU0000000000AAAA") == (None, "CU0000000000AAAA")
    assert parse_reference("C-000002") == (None, "C-000002")
    with pytest.raises(UnknownSubject, match="needs a customer"):
        parse_reference("  ")
    with pytest.raises(UnknownSubject, match="no id after the silo"):
        parse_reference("cards:")


def test_the_condition_deletes_from_a_delta_table(spark, tmp_path):
    """What the erasure runs: a DELETE on a quarantine table with readable rows and raw lines (Sail's DELETE
    plans some expressions a read accepts, e.g. a coalesce, with an error)."""
    rows = [("a", "DA000000011", "D9", None), ("b", "DA9", "D9", None), ("c", None, None, "DA000000011,D1000001,x"),
            ("d", None, None, "DA9,D9,x")]
    path = str(tmp_path / "quarantine_deposits_accounts")
    spark.createDataFrame(rows, "k string, account_id string, cif_id string, _raw_line string") \
        .write.format("delta").save(path)
    columns = spark.read.format("delta").load(path).columns
    spark.sql(f"DELETE FROM delta.`{path}` WHERE {person_condition('quarantine.deposits_accounts', columns, ERASED)}")
    assert sorted(r[0] for r in spark.read.format("delta").load(path).select("k").collect()) == ["b", "d"]


def test_a_master_record_with_a_broken_id_is_found_by_the_persons_own_email(spark):
    ids = Identifiers(customers=frozenset({("cards", "C-000002")}),
                      raw=frozenset({("cards", "email", "ann@example.com"), ("deposits", "email", "bob@example.com")}))
    rows = [("a", "C-00000", "ann@example.com"), ("b", "C-9", "bob@example.com"), ("c", "C-000002", None)]
    df = spark.createDataFrame(rows, "k string, holder_ref string, email string")
    condition = person_condition("quarantine.cards_cardholders", df.columns, ids)
    assert sorted(r[0] for r in df.where(condition).collect()) == ["a", "c"]   # bob's e-mail is a deposits value
    assert "email" not in (person_condition("silver.customer", ["customer_id", "email_token"], ids) or "")
