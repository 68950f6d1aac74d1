"""Every candidate decision of a date: customer x catalog offer x channel the offer may go out on, with
the columns the policy rules, the pricing and the arbitration read.

Inputs are the day's customer-360 and propensity scores and the silver history, all point in time:
consent is the ledger's last word by the end of the decision day (a withdrawal that day counts), and
contact history counts only what was sent before the offers being decided would go out.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.decide.catalog import Catalog, Policy
from jobs.domain import CHANNELS, CREDIT_PRODUCTS, PRODUCTS

_DOMESTIC_POSTCODE = r"^[0-9]{5}$"
ALL_CHANNELS = "all"   # the consent ledger's channel for a consent that covers every channel


def _date(day: dt.date):
    return F.lit(day.isoformat()).cast("date")


def catalog_frame(spark: SparkSession, catalog: Catalog, day: dt.date) -> DataFrame:
    """One row per (offer, channel) with the offer's value model, lever, price bounds and validity."""
    rows = [(o.offer_id, o.product, channel, position, o.value_kind, o.value_amount, o.value_income_rate, o.lever,
             o.price_kind, o.price_unit, o.price_min, o.price_max, o.valid_from <= day <= o.valid_to,
             o.validity_days, o.product in CREDIT_PRODUCTS)
            for o in catalog.offers for position, channel in enumerate(o.channels)]
    schema = ("offer_id string, product string, channel string, channel_order int, value_kind string, "
              "value_amount double, value_income_rate double, lever double, price_kind string, price_unit string, "
              "price_min double, price_max double, offer_valid boolean, validity_days int, is_credit boolean")
    return spark.createDataFrame(rows, schema)


def marketing_consent(consent_events: DataFrame, day: dt.date) -> DataFrame:
    """(customer_id, channel, marketing_consent) from the consent ledger's last event by the end of `day`.

    A marketing event for channel `all` (the customer said yes or no to marketing as a whole) speaks for every
    channel: it is counted as an event of each, so whichever of it and the channel's own events came last wins."""
    end_of_day = F.lit((day + dt.timedelta(days=1)).isoformat()).cast("timestamp")
    every_channel = F.array(*[F.lit(c) for c in CHANNELS])
    latest = Window.partitionBy("customer_id", "channel").orderBy(F.desc("recorded_at"), F.desc("event_id"))
    return (consent_events.where((F.col("purpose") == "marketing") & (F.col("recorded_at") < end_of_day))
            .withColumn("channel", F.explode(F.when(F.col("channel") == ALL_CHANNELS, every_channel)
                                             .otherwise(F.array("channel"))))
            .withColumn("_n", F.row_number().over(latest)).where("_n = 1")
            .select("customer_id", "channel", (F.col("status") == "granted").alias("marketing_consent")))


def customer_facts(customers: DataFrame) -> DataFrame:
    """KYC and residency from the golden record: a verified national id, a domestic postcode."""
    return customers.select(
        "customer_id",
        F.col("national_id_token").isNotNull().alias("kyc_complete"),
        F.coalesce(F.col("postcode").rlike(_DOMESTIC_POSTCODE), F.lit(False)).alias("resident"))


def contact_history(previous_offers: DataFrame, campaign_offers: DataFrame, declines: DataFrame,
                    day: dt.date, policy: Policy) -> tuple[DataFrame, DataFrame, DataFrame]:
    """What the contact rules count, before `day`'s decisions:

    - per (customer_id, channel): `channel_contacts`, offers sent on the channel in the channel cap's window
      (our published decisions of the previous days + campaign sends up to and including `day`);
    - per customer_id: `contacts`, the same over all channels in the fatigue cap's window;
    - per (customer_id, product): `declined_recently`, a decline within the cooldown window.

    previous_offers: customer_id, channel, as_of_date (our offered decisions; shown from the next day);
    campaign_offers: customer_id, channel, sent_date; declines: customer_id, product, declined_date.
    """
    def window_days(kind: str, default: int) -> int:
        rule = policy.contact(kind)
        return rule.days if rule else default

    def sends(days: int) -> DataFrame:
        first = day - dt.timedelta(days=days - 1)
        ours = previous_offers.where((F.col("as_of_date") >= _date(first)) & (F.col("as_of_date") < _date(day)))
        ours = ours.select("customer_id", "channel")
        theirs = campaign_offers.where((F.col("sent_date") >= _date(first)) & (F.col("sent_date") <= _date(day)))
        return ours.unionByName(theirs.select("customer_id", "channel"))

    per_channel = (sends(window_days("channel_cap", 7)).groupBy("customer_id", "channel")
                   .agg(F.count("*").alias("channel_contacts")))
    per_customer = sends(window_days("fatigue_cap", 7)).groupBy("customer_id").agg(F.count("*").alias("contacts"))
    cooldown = window_days("cooldown", 30)
    recent = (declines.where((F.col("declined_date") > _date(day - dt.timedelta(days=cooldown)))
                             & (F.col("declined_date") <= _date(day)))
              .select("customer_id", "product").distinct().withColumn("declined_recently", F.lit(True)))
    return per_channel, per_customer, recent


def channel_affinity(campaign_offers: DataFrame) -> DataFrame:
    """(customer_id, channel, affinity): the share of the customer's offers on a channel they opened."""
    return (campaign_offers.groupBy("customer_id", "channel")
            .agg((F.sum(F.col("opened").cast("int")) / F.count("*")).alias("affinity")))


def build_candidates(c360: DataFrame, facts: DataFrame, scores: DataFrame, offers: DataFrame, consent: DataFrame,
                     per_channel: DataFrame, per_customer: DataFrame, declined: DataFrame,
                     affinity: DataFrame) -> DataFrame:
    """customer x offer x channel for every customer of the day's customer-360 and every offer whose
    product has a champion score; the columns the rules, pricing and arbitration need."""
    product_scores = scores.where("kind = 'product'").select(
        "customer_id", F.col("target").alias("product"), F.col("probability"), "model", "model_version",
        "reason_codes", "reason")
    holds = F.coalesce(*[F.when(F.col("product") == p, F.col(f"has_{p}").cast("boolean"))
                         for p in PRODUCTS], F.lit(False))
    return (c360.join(facts, "customer_id", "left")
            .join(product_scores, "customer_id")
            .join(offers, "product")
            .join(consent, ["customer_id", "channel"], "left")
            .join(per_channel, ["customer_id", "channel"], "left")
            .join(per_customer, "customer_id", "left")
            .join(declined, ["customer_id", "product"], "left")
            .join(affinity, ["customer_id", "channel"], "left")
            .withColumn("holds_product", holds)
            .fillna({"kyc_complete": False, "resident": False, "marketing_consent": False, "channel_contacts": 0,
                     "contacts": 0, "declined_recently": False, "affinity": 0.0}))
