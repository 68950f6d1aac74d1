"""Online sessions, the consent ledger, campaign events and declared life events -> silver, each with
its golden customer.

The source systems know a customer by the id of their home silo (`customer_silo`, `customer_ref`);
`with_customer` attaches the golden `customer_id` through the crosswalk (NULL when the silo id is
unknown: the silver step lets such a row wait for its customer, jobs/unify/late_arrivals.py). Pure
DataFrame -> DataFrame functions.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.contracts import load_contract, typed

RESPONSES = ("accepted", "declined")


def with_customer(df: DataFrame, crosswalk: DataFrame) -> DataFrame:
    """df with (silo, silo_customer_id) -> + customer_id from the crosswalk."""
    return df.join(crosswalk.select("silo", "silo_customer_id", "customer_id"), ["silo", "silo_customer_id"], "left")


def _home_silo_id(df: DataFrame) -> list[F.Column]:
    return [F.col("customer_silo").alias("silo"), F.col("customer_ref").alias("silo_customer_id")]


def digital_sessions(bronze: DataFrame) -> DataFrame:
    df = typed(bronze, load_contract("digital", "sessions"))
    return df.select(
        "session_id", *_home_silo_id(df), "started_at", F.to_date("started_at").alias("session_date"),
        "channel", "page", "page_views", "duration_seconds",
    )


def consent_events(bronze: DataFrame) -> DataFrame:
    df = typed(bronze, load_contract("crm", "consents"))
    return df.select("event_id", *_home_silo_id(df), "purpose", "channel", "status", "recorded_at", "source")


def current_consent(events: DataFrame) -> DataFrame:
    """The ledger's last word per customer, purpose and channel (ties on the timestamp: the later
    event id): status, since when and where it was recorded."""
    latest = Window.partitionBy("customer_id", "purpose", "channel").orderBy(
        F.col("recorded_at").desc(), F.col("event_id").desc())
    return (
        events.where(F.col("customer_id").isNotNull())
        .withColumn("_rank", F.row_number().over(latest)).where("_rank = 1")
        .select("customer_id", "purpose", "channel", "status", F.col("recorded_at").alias("since"), "source",
                "event_id")
    )


def declared_life_events(bronze: DataFrame) -> DataFrame:
    df = typed(bronze, load_contract("crm", "life_events"))
    return df.select("event_id", *_home_silo_id(df), "event_type", "event_date", "recorded_at", "source")


def offer_events(bronze: DataFrame) -> DataFrame:
    df = typed(bronze, load_contract("crm", "offers"))
    return df.select("event_id", "offer_id", *_home_silo_id(df), "campaign", "product", "channel", "event_type",
                     "event_at")


def offer_responses(bronze: DataFrame, published: DataFrame) -> DataFrame:
    """The channels' reports on our published offers, with the decision they answer (`decided_on`, the
    decision date, and `offer_id` from audit.decision_log's offered decisions in `published`). A decision
    id the log does not hold as an offer keeps `decided_on` NULL: the response waits for its decision
    (jobs/unify/late_arrivals.py)."""
    df = typed(bronze, load_contract("channels", "responses"))
    decisions = published.select("decision_id", "decided_on", "offer_id")
    return df.join(decisions, "decision_id", "left").select(
        "decision_id", "decided_on", "offer_id", "customer_id", "channel", "product", "event_type", "event_at")


def offer_interactions(events: DataFrame) -> DataFrame:
    """One row per offer from its events: who, what, on which channel, whether it was held out, and
    when it was sent, opened, clicked and answered (accepted or declined; `none` while unanswered)."""
    def first(kind: str) -> F.Column:
        return F.min(F.when(F.col("event_type") == kind, F.col("event_at")))

    answer = F.when(F.col("event_type").isin(*RESPONSES), F.struct("event_at", "event_type"))
    return (
        events.groupBy("offer_id").agg(
            F.first("customer_id", ignorenulls=True).alias("customer_id"),
            F.first("campaign").alias("campaign"), F.first("product").alias("product"),
            F.first("channel").alias("channel"),
            F.max(F.col("event_type") == "holdout").alias("holdout"),
            F.coalesce(first("sent"), first("holdout")).alias("selected_at"),
            *[first(kind).alias(f"{kind}_at") for kind in ("sent", "opened", "clicked")],
            F.min(answer).alias("_answer"),
        )
        .select(
            "offer_id", "customer_id", "campaign", "product", "channel", "holdout", "selected_at", "sent_at",
            "opened_at", "clicked_at",
            F.coalesce(F.col("_answer.event_type"), F.lit("none")).alias("response"),
            F.col("_answer.event_at").alias("response_at"),
        )
    )
