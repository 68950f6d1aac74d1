"""Clerical review of identity links: the pairs the model is unsure of, and a reviewer's decisions.

A pair of silo records whose match weight falls in the identity policy's grey zone (schemas/identity/policy.json,
`clerical_review`), and that no rule links, is neither linked nor forgotten: the silver step writes it to
audit.identity_review for the date, with both records' silo ids, their tokens (never the clear values: a
reviewer with the right to see them looks them up in the silo by the silo id) and the evidence. A reviewer
answers with a small CSV file (pair_id, decision `same` or `different`, reviewer, note), which
`marketofone identity-review --decisions FILE` checks and keeps in audit.identity_decision; every later silver
run honours it: `same` links the pair (match_rule `reviewer`), `different` keeps it apart whatever a rule or
the weight says (records can still meet through others they link to).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.unify.tokenize import person_tokens

DECISIONS = ("same", "different")
DECISION_COLUMNS = ("pair_id", "decision", "reviewer", "note")
REVIEW_TABLE, DECISION_TABLE = "audit.identity_review", "audit.identity_decision"


def pair_id(a: Column, b: Column) -> Column:
    """A stable id of the pair of record ids (a < b): what a reviewer's file names."""
    return F.concat(F.lit("IP"), F.upper(F.substring(F.sha2(F.concat_ws("|", a, b), 256), 1, 16)))


def _record_tokens(records: DataFrame, key: str, side: str) -> DataFrame:
    """(rec id as <side>, the record's silo ids and tokens, suffixed _<side>)."""
    return records.select(
        F.concat_ws(":", "silo", "silo_customer_id").alias(side),
        F.col("silo").alias(f"silo_{side}"),
        F.col("silo_customer_id").alias(f"silo_customer_id_{side}"),
        *[column.alias(f"{name}_{side}") for name, column in person_tokens(key).items()],
        F.col("birth_date").alias(f"birth_date_{side}"),
        F.col("postcode").alias(f"postcode_{side}"),
    ).dropDuplicates([side])


def review_rows(review: DataFrame, records: DataFrame, key: str, day: dt.date) -> DataFrame:
    """The resolution's review pairs (a, b, match_weight, match_probability, match_evidence) -> the rows of
    audit.identity_review for `day`: pair_id, both records' silo ids and tokens, the scores and evidence."""
    return (review.join(_record_tokens(records, key, "a"), "a").join(_record_tokens(records, key, "b"), "b")
            .select(F.lit(day).alias("as_of_date"), pair_id(F.col("a"), F.col("b")).alias("pair_id"),
                    *[c for side in ("a", "b") for c in (f"silo_{side}", f"silo_customer_id_{side}")],
                    "match_weight", "match_probability", "match_evidence",
                    *[f"{field}_{side}" for field in ("name_token", "national_id_token", "email_token",
                                                      "phone_token", "birth_date", "postcode")
                      for side in ("a", "b")]))


def decisions(decided: DataFrame) -> DataFrame:
    """audit.identity_decision -> (a, b, decision): the record ids of each decided pair."""
    return decided.select(F.concat_ws(":", "silo_a", "silo_customer_id_a").alias("a"),
                          F.concat_ws(":", "silo_b", "silo_customer_id_b").alias("b"), "decision")


def read_decision_file(path: Path) -> list[dict]:
    """A reviewer's CSV (header pair_id,decision[,reviewer][,note]) -> its rows, checked: clear errors name the
    line. Every row needs a pair id and a decision of `same` or `different`; a pair decided twice in one file
    is an error (which one is meant?)."""
    if not path.is_file():
        raise ValueError(f"no decision file at {path}")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = {"pair_id", "decision"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: the header needs {', '.join(sorted(missing))} "
                             f"(columns: {', '.join(DECISION_COLUMNS)})")
        rows, seen = [], {}
        for line, row in enumerate(reader, start=2):
            pair, decision = (row.get("pair_id") or "").strip(), (row.get("decision") or "").strip().lower()
            if not pair:
                raise ValueError(f"{path}, line {line}: no pair_id")
            if decision not in DECISIONS:
                raise ValueError(f"{path}, line {line}: decision must be one of {', '.join(DECISIONS)}, got "
                                 f"{row.get('decision')!r}")
            if pair in seen:
                raise ValueError(f"{path}, line {line}: pair {pair} is decided already on line {seen[pair]}")
            seen[pair] = line
            rows.append({"pair_id": pair, "decision": decision, "reviewer": (row.get("reviewer") or "").strip(),
                         "note": (row.get("note") or "").strip()})
    if not rows:
        raise ValueError(f"{path}: no decisions in the file")
    return rows


def decided_pairs(reviewed: DataFrame, rows: list[dict], decided_at: dt.datetime) -> DataFrame:
    """The file's rows joined to the pairs they decide (the newest review of each pair): the rows of
    audit.identity_decision. A pair id never put up for review is an error naming it."""
    spark = reviewed.sparkSession
    given = spark.createDataFrame(rows, "pair_id string, decision string, reviewer string, note string")
    newest = reviewed.groupBy("pair_id").agg(F.max(F.struct(
        "as_of_date", "silo_a", "silo_customer_id_a", "silo_b", "silo_customer_id_b")).alias("_r"))
    found = given.join(newest, "pair_id", "left")
    unknown = [r.pair_id for r in found.where(F.col("_r").isNull()).select("pair_id").limit(10).collect()]
    if unknown:
        raise ValueError(f"pairs never put up for review (audit.identity_review): {', '.join(unknown)}")
    return found.select("pair_id", *[F.col(f"_r.{c}").alias(c) for c in
                                     ("silo_a", "silo_customer_id_a", "silo_b", "silo_customer_id_b")],
                        "decision", "reviewer", "note", F.lit(decided_at).cast("timestamp").alias("decided_at"),
                        F.col("_r.as_of_date").alias("reviewed_on"))
