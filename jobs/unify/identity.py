"""Identity resolution: silo customer records -> one golden customer id per real person.

Silo identifiers are imperfect: a national id may be missing (a placeholder) or mistyped, people give
a work, old or household email, a household landline or a number they no longer have, a nickname or
a maiden name; and different people share things (a household's email, phone and address; twins'
surname and birth date; a recycled phone number). So records are compared in pairs, with guards:

1. Comparable fields: a valid national id (placeholders and impossible SSNs are unknown), email,
   phone, given name and surname (lower-case letters), the surname's words, birth date, postcode, the
   normalized street and locality. A national id, email or phone held by more than MAX_SHARED records
   identifies nobody and is treated as unknown.
2. Candidate pairs come from the blocks of jobs/unify/linkage.py (the same national id, email or phone;
   the same birth date with a sound-alike surname or given name or the same postcode; ...), and each is
   scored there by a Fellegi-Sunter model: a match weight, a probability and the evidence.
3. Each pair is linked (`links`) by the first of: a reviewer's decision (`reviewer`; `different` unlinks);
   the first rule it meets, in order of trust (RULES):
     national_id       the same national id, and the same birth date or agreeing names
     national_id_typo  national ids one slip apart (one or two digits differ: a substitution, two
                       digits transposed), the same birth date and an agreeing given name or surname
     email             the same email, birth date and an agreeing given name (a household email is
                       not enough: partners differ in birth date, twins in given name)
     phone             the same phone, birth date and an agreeing given name (a household landline, a
                       recycled number: the same guard)
     name_dob          the same given name, surname and birth date
     fuzzy_name_dob    agreeing given names and surnames (a typo, a nickname), the same birth date
                       and the same postcode
   then the weight, as the identity policy says (schemas/identity/policy.json): `probabilistic` at the link
   weight with given names that do not plainly differ, `different_national_id` across two national ids at
   that rule's weight and levels. A national id conflict (both records have one, differing in more than
   NID_CONFLICT_DISTANCE digits) blocks every rule. Names agree when equal, one is a nickname of the other
   (jobs/unify/nicknames.py), they are one edit or one transposition apart, or (surnames) two edits apart
   with the same soundex. Pairs in the policy's grey zone that nothing links are kept for clerical review.
4. Clusters: records linked to records on the same side of the national id line (both have one, or
   both have none) are merged outright (connected components, by label propagation with plain
   DataFrame operations, so it runs on any Spark engine). A component without a national id then
   joins at most one component with one, the one its most trusted link points to: a record without
   a national id never puts two people with different national ids into one cluster. A cluster is
   one person; each record keeps the most trusted rule among its kept links, or `single_record` when
   nothing linked it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from jobs.lookups import looked_up
from jobs.unify.linkage import IdentityPolicy, load_policy, scored_pairs
from jobs.unify.nicknames import is_nickname
from jobs.unify.standardize import valid_national_id, valid_phone

log = logging.getLogger(__name__)

# Most trusted first: a reviewer's decision, the deterministic rules, then the model's weight alone.
RULES = ("reviewer", "national_id", "national_id_typo", "email", "phone", "name_dob", "fuzzy_name_dob",
         "probabilistic", "different_national_id")
SCORES = ("match_weight", "match_probability", "match_evidence")
# The normalized address (jobs/unify/address.py); a master exported before the contracts had it has none.
ADDRESS = ("street", "locality")
MAX_SHARED = 8  # records sharing one national id, email or phone beyond which it identifies nobody
# National ids differing in more digit positions than this are two people's (closer: one id mistyped).
NID_CONFLICT_DISTANCE = 4

def _letters(c: Column) -> Column:
    n = F.regexp_replace(F.lower(c), "[^a-z]", "")
    return F.when(n != "", n)


def record_id(df: DataFrame) -> DataFrame:
    return df.withColumn("rec_id", F.concat_ws(":", "silo", "silo_customer_id"))


def comparable(records: DataFrame) -> DataFrame:
    """The fields the rules compare: rec_id, nid, email, phone, first, last, dob, postcode.

    A national id, email or phone held by more than MAX_SHARED records (a branch's phone number, a
    placeholder nobody listed) identifies nobody: it is treated as unknown."""
    first = _letters(F.col("first_name"))
    email = F.lower(F.trim("email_norm"))
    fields = record_id(records).select(
        "rec_id",
        valid_national_id(F.regexp_replace("national_id_norm", "[^0-9]", "")).alias("nid"),
        F.when(email.contains("@"), email).alias("email"),
        valid_phone(F.col("phone_norm")).alias("phone"),
        first.alias("first"),
        _letters(F.col("last_name")).alias("last"),
        F.col("birth_date").alias("dob"),
        F.col("postcode"),
        # The surname's words (lower-case letters, one space apart): "Van der Steege" -> "van der steege",
        # so a record that kept only "Steege" still shares a word with it.
        F.trim(F.regexp_replace(F.regexp_replace(F.lower(F.col("last_name")), "[^a-z ]", ""), " +", " "))
        .alias("last_words"),
        *[(F.col(c) if c in records.columns else F.lit(None).cast("string")).alias(c) for c in ADDRESS],
    )
    for field in ("nid", "email", "phone"):
        holders = F.count(F.lit(1)).over(Window.partitionBy(field))
        fields = fields.withColumn(field, F.when(holders <= MAX_SHARED, F.col(field)))
    # Phonetic codes of the names, for blocking (jobs/unify/linkage.py).
    return fields.withColumn("first_sx", F.soundex("first")).withColumn("last_sx", F.soundex("last"))


def names_agree(x: Column, y: Column, sound_alike: bool = False) -> Column:
    """Equal; one a nickname of the other; one edit apart (a letter dropped or doubled also in a three
    letter name); or two letters transposed. With `sound_alike` (surnames: Stephens / Stevens) also two
    edits apart with the same soundex when both have five letters or more; not for given names, where
    it would take twins Lucas and Lucia for one person. NULL (unknown) when either is missing."""
    distance = F.levenshtein(x, y)
    shortest = F.least(F.length(x), F.length(y))
    same_length = F.length(x) == F.length(y)
    same_letters = F.array_sort(F.split(x, "")) == F.array_sort(F.split(y, ""))
    agree = (
        (x == y)
        | is_nickname(x, y)
        | is_nickname(y, x)
        | ((distance <= 1) & ((shortest >= 4) | ((shortest >= 3) & ~same_length)))
        | ((distance <= 2) & (shortest >= 4) & same_length & same_letters)
    )
    if sound_alike:
        agree = agree | ((distance <= 2) & (shortest >= 5) & (F.soundex(x) == F.soundex(y)))
    return agree


def digits_apart(x: Column, y: Column) -> Column:
    """How many of the 9 digit positions differ (a substituted digit: 1, two transposed: 2)."""
    return sum(F.when(F.substring(x, i, 1) != F.substring(y, i, 1), 1).otherwise(0) for i in range(1, 10))


def evidence(compared: DataFrame, carry: tuple[str, ...] = ()) -> DataFrame:
    """Compared pairs (a, b, a_<field>, b_<field>) -> (a, b, the `carry` columns, mixed, and what agrees, as
    flags): nid_same, nid_typo, nid_conflict, dob, first, last (names agree), full_name (equal), email, phone,
    postcode. `mixed`: exactly one of the two records has a national id."""
    def both(field: str) -> Column:
        return F.col(f"a_{field}").isNotNull() & F.col(f"b_{field}").isNotNull()

    def same(field: str) -> Column:
        return F.coalesce(both(field) & (F.col(f"a_{field}") == F.col(f"b_{field}")), F.lit(False))

    nid_distance = digits_apart(F.col("a_nid"), F.col("b_nid"))
    return compared.select(
        "a", "b", *carry,
        (F.col("a_nid").isNull() != F.col("b_nid").isNull()).alias("mixed"),
        same("nid").alias("nid_same"),
        F.coalesce(both("nid") & (nid_distance > 0) & (nid_distance <= 2), F.lit(False)).alias("nid_typo"),
        F.coalesce(both("nid") & (nid_distance > NID_CONFLICT_DISTANCE), F.lit(False)).alias("nid_conflict"),
        same("dob").alias("dob"),
        F.coalesce(names_agree(F.col("a_first"), F.col("b_first")), F.lit(False)).alias("first"),
        F.coalesce(names_agree(F.col("a_last"), F.col("b_last"), sound_alike=True), F.lit(False)).alias("last"),
        (same("first") & same("last")).alias("full_name"),
        same("email").alias("email"),
        same("phone").alias("phone"),
        same("postcode").alias("postcode"),
    )


def rule_of_pair() -> Column:
    """The most trusted rule a pair's evidence (see `evidence`) meets, NULL when none."""
    nid_same, nid_typo, dob = F.col("nid_same"), F.col("nid_typo"), F.col("dob")
    first, last, unblocked = F.col("first"), F.col("last"), ~F.col("nid_conflict")
    return (
        F.when(nid_same & (dob | (first & last)), F.lit("national_id"))
        .when(nid_typo & dob & (first | last), F.lit("national_id_typo"))
        .when(F.col("email") & dob & first & unblocked, F.lit("email"))
        .when(F.col("phone") & dob & first & unblocked, F.lit("phone"))
        .when(F.col("full_name") & dob & unblocked, F.lit("name_dob"))
        .when(first & last & dob & F.col("postcode") & unblocked, F.lit("fuzzy_name_dob"))
    )


def links(scored: DataFrame, policy: IdentityPolicy, decisions: DataFrame | None = None) -> DataFrame:
    """Scored candidate pairs (jobs/unify/linkage.scored_pairs) -> (a, b, rule, mixed, match_weight,
    match_probability, match_evidence, review) for every pair that is linked or goes to clerical review.

    A pair is linked by, in order: a reviewer's decision that it is one person (`reviewer`; one that it is two
    people unlinks it, whatever else says so); the most trusted rule it meets (RULES); a match weight at or
    above the policy's link weight (`probabilistic`), or, when the two national ids conflict, at or above the
    policy's weight for a different national id with the names and birth date at the levels it requires
    (`different_national_id`). A pair that is not linked, not
    decided, and whose weight reaches the clerical-review weight is kept with `review` true and no rule.
    decisions: (a, b, decision) with decision 'same' or 'different' (jobs/unify/review.decisions)."""
    flags = evidence(scored, carry=(*SCORES, "given_names_differ", "may_cross_national_ids"))
    if decisions is not None:
        flags = flags.join(decisions.select("a", "b", "decision"), ["a", "b"], "left")
    else:
        flags = flags.withColumn("decision", F.lit(None).cast("string"))
    # A link on the weight alone needs given names that do not plainly differ (twins: see linkage.scored_pairs).
    weight = F.when(~F.col("given_names_differ"), F.col("match_weight"))
    conflict = F.col("nid_conflict")
    rule = (
        F.when(F.col("decision") == "same", F.lit("reviewer"))
        .when(F.col("decision") == "different", F.lit(None))
        .otherwise(F.coalesce(
            rule_of_pair(),
            F.when(~conflict & (weight >= policy.link_weight), F.lit("probabilistic")),
            F.when(conflict & F.col("may_cross_national_ids") & (weight >= policy.different_national_id_weight),
                   F.lit("different_national_id")),
        ))
    )
    rows = flags.withColumn("rule", rule)
    # Two national ids that conflict are two people unless the weight reaches the policy's bar for that, so
    # such a pair is worth a reviewer's time only once it is as strong as a link; with given names that differ
    # as well it is two relatives (twins), not a question.
    bar = (F.when(conflict & F.col("given_names_differ"), F.lit(None))
           .when(conflict, F.lit(policy.link_weight)).otherwise(F.lit(policy.review_weight)))
    undecided = F.col("rule").isNull() & F.col("decision").isNull()
    review = undecided & F.coalesce(F.col("match_weight") >= bar, F.lit(False))
    return rows.withColumn("review", review).where(F.col("rule").isNotNull() | F.col("review")).select(
        "a", "b", "rule", "mixed", *SCORES, "review")


def _rank(rule: Column) -> Column:
    return looked_up(rule, {r: i for i, r in enumerate(RULES)})


def adjacency(edges: DataFrame) -> DataFrame:
    """(rec_id, neighbours, rank, attach) from edges (a, b, rule, mixed), in one pass over the edges:
    neighbours  records linked by a link between two records that both have a national id or both
                have none (NULL when none): these are merged outright;
    rank        the most trusted of those links (the index of its rule in RULES);
    attach      the links to records on the other side of that line: array of (rank, other)."""
    directed = edges.select(F.explode(F.array(
        F.struct(F.col("a").alias("rec_id"), F.col("b").alias("other"), F.col("rule"), F.col("mixed")),
        F.struct(F.col("b").alias("rec_id"), F.col("a").alias("other"), F.col("rule"), F.col("mixed")),
    )).alias("e")).select("e.*").withColumn("rank", _rank(F.col("rule")))
    return directed.groupBy("rec_id").agg(
        F.array_distinct(F.collect_list(F.when(~F.col("mixed"), F.col("other")))).alias("neighbours"),
        F.min(F.when(~F.col("mixed"), F.col("rank"))).alias("rank"),
        F.collect_list(F.when(F.col("mixed"), F.struct("rank", "other"))).alias("attach"),
    ).withColumn("neighbours", F.when(F.size("neighbours") > 0, F.col("neighbours")))


def connected_components(nodes: DataFrame, max_iterations: int = 30, materialize=lambda df, i: df) -> DataFrame:
    """nodes (rec_id, neighbours: array of linked rec_ids or NULL, any columns to carry) -> the same
    with `cluster`: the smallest record id of the record's connected component.

    Label propagation by message passing with plain DataFrame operations: in each round every record
    sends its label to itself and to its neighbours and keeps the smallest it receives (a window over
    the receiving record, so its own row keeps its other columns). A round reads the previous round
    once, so the plan grows linearly, not exponentially, when nothing is materialized, and the links
    are computed once. `materialize(df, iteration)` may store each round's state (the run passes a
    scratch write that alternates between two locations: round i reads only round i - 1)."""
    payload = [c for c in nodes.columns if c != "rec_id"]
    no_neighbours = F.array().cast("array<string>")
    state = nodes.withColumn(  # round 0 is done: each record starts with the smallest id around it
        "cluster", F.least(F.col("rec_id"), F.coalesce(F.array_min("neighbours"), F.col("rec_id"))))
    for iteration in range(max_iterations):
        messages = state.select(
            F.explode(F.array_union(F.array("rec_id"), F.coalesce("neighbours", no_neighbours))).alias("_to"),
            "rec_id", *payload, "cluster",
        )
        received = F.min("cluster").over(Window.partitionBy("_to"))
        updated = messages.withColumn("_received", received).where(F.col("rec_id") == F.col("_to")).select(
            "rec_id", *payload, F.col("_received").alias("cluster"),
            (F.col("_received") != F.col("cluster")).alias("_changed"),
        )
        updated = materialize(updated, iteration)
        changed = updated.where("_changed").count()
        state = updated.drop("_changed")
        if changed == 0:
            log.info("identity clusters converged after %d rounds", iteration + 1)
            return state
    raise RuntimeError(f"identity resolution did not converge in {max_iterations} rounds")


def attach(components: DataFrame) -> DataFrame:
    """Components of records without a national id join at most one component with one.

    components: (rec_id, has_nid, cluster, rank, attach, ...) -> (rec_id, has_nid, cluster, rank, ...)
    with the final cluster, and `rank` including the attaching links that were kept. A component
    without a national id linked to several components with one (a household email, a shared name and
    birth date) joins the one its most trusted link points to (then the smallest cluster id), so two
    people with different national ids never end up in one cluster through a record that has none.

    Every record sends one row to itself and one along each attaching link; windows over the
    receiver, the component without a national id and the sender decide, so `components` is read
    once (no self-joins: a cheap plan also when nothing upstream was materialized)."""
    payload = [c for c in components.columns if c != "attach"]
    links_type = "array<struct<rank:int,other:string>>"  # one type (and nullability) for both parts
    to_self = F.array(F.struct(F.lit(None).cast("int").alias("rank"), F.col("rec_id").alias("other")))
    along = F.coalesce(F.col("attach"), F.array().cast(links_type))
    rows = components.select(*payload, F.explode(F.concat(to_self.cast(links_type), along.cast(links_type)))
                             .alias("_link"))
    rows = rows.select(*payload, F.col("_link.rank").alias("_rank"), F.col("_link.other").alias("_to"))
    own = F.col("_to") == F.col("rec_id")
    rows = rows.withColumn("_to_cluster", F.max(F.when(own, F.col("cluster"))).over(Window.partitionBy("_to")))
    # Along a link, the sender (this row's record) or the receiver is the side without a national id.
    free = F.when(own | ~F.col("has_nid"), F.col("cluster")).otherwise(F.col("_to_cluster"))
    anchor = F.when(F.col("has_nid"), F.col("cluster")).otherwise(F.col("_to_cluster"))
    best = F.min(F.when(~own, F.concat(F.lpad(F.col("_rank").cast("string"), 3, "0"), F.lit("|"), anchor)))
    rows = rows.withColumn("_free", free).withColumn("_joins", best.over(Window.partitionBy("_free")))
    rows = rows.withColumn("_joins", F.expr("substring(_joins, 5)"))
    kept = ~own & (anchor == F.col("_joins"))
    rows = rows.withColumn("_kept_rank", F.min(F.when(kept, F.col("_rank"))).over(Window.partitionBy("rec_id")))
    return rows.where(own).select(
        *[c for c in payload if c not in ("cluster", "rank")],
        F.coalesce("_joins", "cluster").alias("cluster"),
        F.least("rank", "_kept_rank").alias("rank"),
    )


def customer_id(cluster: F.Column) -> F.Column:
    """A stable golden id derived from the cluster's anchor record (a silo id, not PII)."""
    return F.concat(F.lit("CU"), F.upper(F.substring(F.sha2(cluster, 256), 1, 14)))


@dataclass(frozen=True)
class Resolution:
    """crosswalk: (silo, silo_customer_id, customer_id, match_rule, match_probability, match_evidence);
    review: the pairs for clerical review (a, b, match_weight, match_probability, match_evidence), where a and
    b are record ids `silo:silo_customer_id`."""
    crosswalk: DataFrame
    review: DataFrame


def _strongest_link(edges: DataFrame, clusters: DataFrame) -> DataFrame:
    """(rec_id, match_probability, match_evidence) of each record's strongest link to a record that ended in
    its cluster: the most trusted rule first (the one match_rule names), then the highest weight. Records
    without one are absent."""
    scores = [F.col(c) for c in SCORES]
    directed = edges.withColumn("_trust", -_rank(F.col("rule"))).select(F.explode(F.array(
        F.struct(F.col("a").alias("rec_id"), F.col("b").alias("other"), "_trust", *scores),
        F.struct(F.col("b").alias("rec_id"), F.col("a").alias("other"), "_trust", *scores),
    )).alias("e")).select("e.*")
    cluster_of = clusters.select("rec_id", "cluster")
    kept = (directed.join(cluster_of, "rec_id")
            .join(cluster_of.select(F.col("rec_id").alias("other"), F.col("cluster").alias("_other_cluster")),
                  "other")
            .where(F.col("cluster") == F.col("_other_cluster")))
    best = F.max(F.struct("_trust", *scores)).alias("_best")
    return kept.groupBy("rec_id").agg(best).select(
        "rec_id", F.col("_best.match_probability").alias("match_probability"),
        F.col("_best.match_evidence").alias("match_evidence"))


def resolution(records: DataFrame, scratch, policy: IdentityPolicy | None = None,
               decisions: DataFrame | None = None) -> Resolution:
    """Standardized silo records -> the crosswalk and the pairs for clerical review.

    scratch(df, name): stores an intermediate result and reads it back (Lakehouse.scratch): the model's
    tables, the links and each round of the connected components are read several times, and recomputing
    them costs far more than storing them; decisions: reviewers' decisions (a, b, decision)."""
    policy = policy or load_policy()
    fields = comparable(records)
    edges = scratch(links(scored_pairs(fields, scratch, policy), policy, decisions), "identity_links")
    linked = edges.where(~F.col("review"))
    nodes = (
        fields.select("rec_id", F.col("nid").isNotNull().alias("has_nid"))
        .join(record_id(records).select("rec_id", "silo", "silo_customer_id"), "rec_id")
        .dropDuplicates(["rec_id"])
        .join(adjacency(linked.select("a", "b", "rule", "mixed")), "rec_id", "left")
    )
    components = connected_components(nodes, materialize=lambda df, i: scratch(df, f"identity_labels_{i % 2}"))
    clusters = scratch(attach(components), "identity_clusters")
    # A CASE, not element_at over an array of the names: JVM Spark 4.2 folds element_at(<literal array>, NULL)
    # to the array's LAST element (measured: a record without links came out `fuzzy_name_dob` on the JVM
    # engines and `single_record` on Sail, which gives NULL as Spark documents).
    rule = F.coalesce(*[F.when(F.col("rank") == i, F.lit(r)) for i, r in enumerate(RULES)], F.lit("single_record"))
    crosswalk = clusters.join(_strongest_link(linked, clusters), "rec_id", "left").select(
        "silo", "silo_customer_id", customer_id(F.col("cluster")).alias("customer_id"), rule.alias("match_rule"),
        "match_probability", "match_evidence",
    )
    return Resolution(crosswalk, edges.where("review").select("a", "b", *SCORES))


def resolve(records: DataFrame, scratch, policy: IdentityPolicy | None = None,
            decisions: DataFrame | None = None) -> DataFrame:
    """Standardized silo records -> crosswalk (see Resolution)."""
    return resolution(records, scratch, policy, decisions).crosswalk


def keep_known_ids(resolved: DataFrame, known: DataFrame) -> DataFrame:
    """A golden id, once given, stays: a cluster whose records the crosswalk already maps takes the id of its
    earliest-known record (resolve() derives a new cluster's id from its smallest record id, which changes
    when a record with a smaller id joins, e.g. an existing customer's first card). Two clusters never share
    an id: when a cluster splits, the part with the smallest new id keeps the old one and the rest keep
    their new ids. `known`: the crosswalk so far (silo, silo_customer_id, customer_id, _known_on)."""
    prior = known.select("silo", "silo_customer_id", F.col("customer_id").alias("_prior"),
                         F.col("_known_on").alias("_prior_known"))
    rows = resolved.join(prior, ["silo", "silo_customer_id"], "left")
    earliest = F.min(F.when(F.col("_prior").isNotNull(), F.struct("_prior_known", "_prior")))
    rows = rows.withColumn("_claim", earliest.over(Window.partitionBy("customer_id")).getField("_prior"))
    first_claimant = F.min("customer_id").over(Window.partitionBy("_claim"))
    kept = F.when(F.col("_claim").isNotNull() & (F.col("customer_id") == first_claimant), F.col("_claim"))
    return rows.withColumn("customer_id", F.coalesce(kept, F.col("customer_id"))).select(*resolved.columns)
