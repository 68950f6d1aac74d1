"""Probabilistic identity resolution: a Fellegi-Sunter model scores every candidate pair of silo records.

The rules of jobs/unify/identity.py link what they are sure of; they were tuned to the defects our own
generator makes. A bank's real records have others: a whole national id replaced by another, a birth-date
typo together with a name typo, given name and surname swapped, a surname of several words. So every
candidate pair is also scored by a Fellegi-Sunter model: each field's comparison falls in a level (exact,
a typo apart, swapped, different, unknown), each level has an m probability (how often two records of one
person land there) and a u probability (how often two records of different people do), and the pair's
match weight is the sum of log2(m/u) over the fields plus the prior log-odds. m and u are estimated from
the day's own records, without labels: u from a deterministic sample of random pairs, m by expectation-
maximisation on the pairs that share a national id and on those that share a birth date and surname sound.
Exact names are adjusted by how common the name is (term frequencies): two "Smith"s are weaker evidence
than two "Okonkwo"s. What a weight does (link, clerical review, a different national id) is the identity
policy's (schemas/identity/policy.json), applied in jobs/unify/identity.py.

Why Splink: it is the maintained Fellegi-Sunter implementation that runs its SQL on a Spark session, so the
model runs where the records are, on the job's own engine (embedded Sail, classic JVM Spark, a Spark Connect
server) and holds at a bank's size; recordlinkage and dedupe work in pandas on one machine, Zingg needs its
own JVM job and labelled pairs. Its Scala UDF jar is not registered: the levels use Spark's built-in
functions only (levenshtein, soundex, arrays), so every engine computes the same levels. Its intermediate
tables go through the lakehouse's scratch area (`materialize`): `persist` is a no-op on Sail and
checkpointing needs the JVM's SparkContext, which a Connect session has not.

A master too small to estimate from (fewer than the policy's `min_records_to_estimate` records, e.g. a
test's handful) is scored with the prior model shipped beside the policy (schemas/identity/model.json),
estimated on a generated bank by `benchmarks/identity_resolution.py --save-prior`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.resources import resource_dir
from jobs.unify.nicknames import NICKNAME_PAIRS

log = logging.getLogger(__name__)

# The fields a pair is compared on (built by identity.comparable): rec_id is the unique id.
FIELDS = ("nid", "email", "phone", "first", "last", "last_words", "dob", "postcode", "street", "locality",
          "first_sx", "last_sx")
# The fields the rules of jobs/unify/identity.py read from a scored pair (as a_<field>, b_<field>).
COMPARED = ("nid", "email", "phone", "first", "last", "dob", "postcode")
_DIALECT = "spark"
ELSE = 0  # the comparison vector value of a comparison's last level, "different"
SEED = 20260630  # u sampling is a hash of the record ids and this seed: the same sample on every run and engine
U_SAMPLE_PAIRS = 1_000_000


@dataclass(frozen=True)
class IdentityPolicy:
    """schemas/identity/policy.json: what a match weight decides. See that file's descriptions."""
    version: str
    link_weight: float
    review_weight: float
    different_national_id_weight: float
    different_national_id_description: str
    # for a link across two national ids, one of these: comparison -> the levels (labels) it must be at
    different_national_id_requires: tuple[dict[str, tuple[str, ...]], ...]
    min_records_to_estimate: int


def identity_folder() -> Path:
    return resource_dir("schemas") / "identity"


def load_policy(path: Path | None = None) -> IdentityPolicy:
    path = Path(path or identity_folder() / "policy.json")
    raw = json.loads(path.read_text())
    try:
        policy = IdentityPolicy(
            version=str(raw["version"]),
            link_weight=float(raw["link"]["min_match_weight"]),
            review_weight=float(raw["clerical_review"]["min_match_weight"]),
            different_national_id_weight=float(raw["different_national_id"]["min_match_weight"]),
            different_national_id_description=str(raw["different_national_id"]["description"]),
            different_national_id_requires=tuple(
                {name: tuple(levels) for name, levels in alternative.items()}
                for alternative in raw["different_national_id"]["requires_one_of"]),
            min_records_to_estimate=int(raw["estimation"]["min_records_to_estimate"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: not a valid identity policy ({e!r})") from e
    known = {name: set(labels) for name, labels in comparison_labels().items()}
    for name, levels in [item for alternative in policy.different_national_id_requires
                         for item in alternative.items()]:
        unknown = set(levels) - known.get(name, set())
        if name not in known or unknown:
            raise ValueError(f"{path}: different_national_id requires {name!r} at levels {sorted(unknown or levels)}, "
                             f"which the model does not have; its comparisons and levels: "
                             + "; ".join(f"{c}: {', '.join(sorted(v))}" for c, v in known.items()))
    if not policy.review_weight < policy.link_weight <= policy.different_national_id_weight:
        raise ValueError(f"{path}: the weights must rise: clerical_review < link <= different_national_id, got "
                         f"{policy.review_weight}, {policy.link_weight}, {policy.different_national_id_weight}")
    return policy


# -- the model: comparisons and blocking ---------------------------------------------------------------------
def _name_agrees(x: str, y: str) -> str:
    """SQL: names one edit apart (at least four letters), or two letters transposed."""
    return (f"(levenshtein({x}, {y}) <= 1 AND least(length({x}), length({y})) >= 4) OR "
            f"(length({x}) = length({y}) AND levenshtein({x}, {y}) <= 2 AND "
            f"array_sort(split({x}, '')) = array_sort(split({y}, '')))")


def comparison_labels() -> dict[str, list[str]]:
    """{comparison: its levels' labels, in order} of the code's model (what a policy may name)."""
    return {name: list(labels) for name, labels in _comparison_labels().items()}


@functools.cache
def _comparison_labels() -> dict[str, tuple[str, ...]]:
    # The model is code: its labels never change in a process. Built, they cost Splink's SQL parsing (about a
    # quarter of a second), once per policy load, i.e. per silver run and per identity test.
    built = [c.get_comparison(_DIALECT) for c in comparisons()]
    return {c.output_column_name: tuple(level.label_for_charts for level in c.comparison_levels) for c in built}


def comparisons() -> list:
    """Each field's levels, most telling first. Only Spark's built-in functions (see the module's doc)."""
    import splink.comparison_level_library as cll
    from splink.comparison_library import CustomComparison

    def nickname(x: str, y: str) -> str:
        return f"instr('{NICKNAME_PAIRS}', concat('|', {x}, ':', {y}, '|')) > 0"

    def custom(sql: str, label: str):
        return cll.CustomLevel(sql, label_for_charts=label)

    return [
        CustomComparison(output_column_name="nid", comparison_levels=[
            cll.NullLevel("nid"),
            cll.ExactMatchLevel("nid").configure(label_for_charts="same"),
            custom("levenshtein(nid_l, nid_r) <= 2", "one slip apart"),
            cll.ElseLevel().configure(label_for_charts="different"),
        ]),
        CustomComparison(output_column_name="dob", comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob").configure(label_for_charts="same"),
            custom("levenshtein(dob_l, dob_r) <= 1 OR (substr(dob_l, 1, 4) = substr(dob_r, 1, 4) AND "
                   "substr(dob_l, 6, 2) = substr(dob_r, 9, 2) AND substr(dob_l, 9, 2) = substr(dob_r, 6, 2))",
                   "a typo or day and month swapped"),
            custom("substr(dob_l, 1, 4) = substr(dob_r, 1, 4)", "same year"),
            cll.ElseLevel().configure(label_for_charts="different"),
        ]),
        CustomComparison(output_column_name="first", comparison_levels=[
            cll.NullLevel("first"),
            cll.ExactMatchLevel("first", term_frequency_adjustments=True).configure(label_for_charts="same"),
            custom(f"{nickname('first_l', 'first_r')} OR {nickname('first_r', 'first_l')} OR "
                   f"{_name_agrees('first_l', 'first_r')}", "nickname or typo"),
            custom("first_l = last_r OR last_l = first_r", "swapped with the surname"),
            cll.ElseLevel().configure(label_for_charts="different"),
        ]),
        CustomComparison(output_column_name="last", comparison_levels=[
            cll.NullLevel("last"),
            cll.ExactMatchLevel("last", term_frequency_adjustments=True).configure(label_for_charts="same"),
            custom(_name_agrees("last_l", "last_r"), "typo"),
            custom("arrays_overlap(filter(split(last_words_l, ' '), w -> length(w) >= 3), "
                   "filter(split(last_words_r, ' '), w -> length(w) >= 3)) OR "
                   "(least(length(last_l), length(last_r)) >= 4 AND "
                   "(instr(last_l, last_r) > 0 OR instr(last_r, last_l) > 0))",
                   "a word of a longer surname"),
            custom("last_l = first_r OR first_l = last_r", "swapped with the given name"),
            custom("last_sx_l = last_sx_r", "sounds alike"),
            cll.ElseLevel().configure(label_for_charts="different"),
        ]),
        CustomComparison(output_column_name="email", comparison_levels=[
            cll.NullLevel("email"), cll.ExactMatchLevel("email").configure(label_for_charts="same"),
            cll.ElseLevel().configure(label_for_charts="different")]),
        CustomComparison(output_column_name="phone", comparison_levels=[
            cll.NullLevel("phone"), cll.ExactMatchLevel("phone").configure(label_for_charts="same"),
            cll.ElseLevel().configure(label_for_charts="different")]),
        CustomComparison(output_column_name="postcode", comparison_levels=[
            cll.NullLevel("postcode"), cll.ExactMatchLevel("postcode").configure(label_for_charts="same"),
            cll.ElseLevel().configure(label_for_charts="different")]),
        CustomComparison(output_column_name="street", comparison_levels=[
            cll.NullLevel("street"),
            cll.ExactMatchLevel("street", term_frequency_adjustments=True).configure(label_for_charts="same"),
            custom("levenshtein(street_l, street_r) <= 2", "a typo"),
            # The house number is the text before the first space: substring_index, not split(...)[0], whose
            # bounds check Sail plans as a raise_error branch that fails at random on a large sample.
            custom("substring_index(street_l, ' ', 1) = substring_index(street_r, ' ', 1) AND "
                   "arrays_overlap(filter(split(street_l, ' '), w -> length(w) >= 4), "
                   "filter(split(street_r, ' '), w -> length(w) >= 4))", "same number, a word of the street"),
            cll.ElseLevel().configure(label_for_charts="different")]),
        CustomComparison(output_column_name="locality", comparison_levels=[
            cll.NullLevel("locality"), cll.ExactMatchLevel("locality").configure(label_for_charts="same"),
            custom(_name_agrees("locality_l", "locality_r"), "a typo"),
            cll.ElseLevel().configure(label_for_charts="different")]),
    ]


# Candidate pairs: records sharing any of these (a pair found by several is scored once). Each key is narrow
# enough for 10M customers: a birth date alone would put ~450 records in a block there.
BLOCKING = (
    ("nid",), ("email",), ("phone",),
    ("dob", "last_sx"), ("dob", "first_sx"), ("dob", "postcode"),
    ("first_sx", "last_sx", "postcode"),
)
SWAPPED_BLOCK = "l.dob = r.dob AND l.first_sx = r.last_sx AND l.last_sx = r.first_sx"
# EM sessions: the fields a session blocks on are not estimated in it, so two sessions cover every field.
TRAINING_BLOCKS = (("nid",), ("dob", "last_sx"))
# Pairs sure enough to estimate the prior probability that two random records match.
DETERMINISTIC = ("l.nid = r.nid AND l.dob = r.dob", "l.email = r.email AND l.dob = r.dob AND l.first = r.first")


def model_settings():
    from splink import SettingsCreator, block_on

    rules = [block_on(*cols) for cols in BLOCKING] + [{"blocking_rule": SWAPPED_BLOCK, "sql_dialect": "spark"}]
    return SettingsCreator(
        link_type="dedupe_only", unique_id_column_name="rec_id", comparisons=comparisons(),
        blocking_rules_to_generate_predictions=rules, retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
    )


# -- the engine: Splink's SQL on the job's session, its tables through the scratch area ----------------------
_MATERIALIZED = re.compile(r"__splink__(df_comparison_vectors|df_concat_with_tf|df_predict|df_tf_.+|"
                           r"blocked_id_pairs|df_concat_sample)")


def _api(spark, materialize: Callable[[DataFrame, str], DataFrame]):
    from splink.internals.spark.database_api import SparkAPI

    class ScratchSparkAPI(SparkAPI):
        """Splink's Spark backend that cuts lineage by writing a table to the lakehouse's scratch area."""

        def _repartition_if_needed(self, spark_df, templated_name):
            return spark_df  # the engine chooses; a fixed count would write hundreds of tiny scratch files

        def _break_lineage_and_repartition(self, spark_df, templated_name, physical_name):
            if _MATERIALIZED.fullmatch(templated_name):
                return materialize(spark_df, f"splink_{physical_name}")
            return spark_df

    return ScratchSparkAPI(spark_session=spark, register_udfs_automatically=False)


def _train(linker) -> None:
    from splink import block_on

    linker.training.estimate_probability_two_random_records_match(
        [{"blocking_rule": r, "sql_dialect": "spark"} for r in DETERMINISTIC], recall=0.8)
    # One pass over the sample, not Splink's ten chunks per comparison: each query costs a JVM engine ~1 s.
    linker.training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=SEED, min_count_per_level=None,
                                                     num_chunks=1)
    for cols in TRAINING_BLOCKS:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*cols))


def prior_model_path() -> Path:
    return identity_folder() / "model.json"


def prior_model() -> dict:
    """The prior model's settings, without term-frequency adjustments: a master too small to estimate from
    is too small to tell a common name from a rare one (two records of twenty, both "Ann", would make "Ann"
    the commonest name there is)."""
    settings = json.loads(prior_model_path().read_text())
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            level.pop("tf_adjustment_column", None)
            level.pop("tf_adjustment_weight", None)
    return settings


def model_input(fields: DataFrame) -> DataFrame:
    """identity.comparable's fields -> the model's input: rec_id and FIELDS, the birth date as text (its
    levels compare characters: a typo, day and month swapped)."""
    return fields.select("rec_id", *[F.date_format("dob", "yyyy-MM-dd").alias("dob") if c == "dob" else c
                                     for c in FIELDS])


def linker_for(fields: DataFrame, materialize, policy: IdentityPolicy, estimate: bool | None = None):
    """A Splink linker over model_input `fields`: estimated on them when there are enough records (or
    `estimate` says so), else the prior model."""
    from splink import Linker

    api = _api(fields.sparkSession, materialize)
    if estimate is None:
        records = fields.count()
        estimate = records >= policy.min_records_to_estimate
        log.info("identity model: %s (%d records)", "estimated" if estimate else "the prior", records)
    # validate_settings=False: Splink's check of the settings against the input's columns only logs what it
    # finds, and both models are fixed by the code and the shipped model.json (tests/unit/unify run them); the
    # check parsed every level's SQL again, about 0.15 s a run.
    settings = model_settings() if estimate else prior_model()
    linker = Linker(api.register(fields), settings, log_level=logging.WARNING, validate_settings=False)
    if estimate:
        _train(linker)
    return linker


def level_labels(linker) -> dict[str, dict[int, str]]:
    """{comparison: {gamma value: label}} of a linker's model."""
    out = {}
    for comparison in linker._settings_obj.comparisons:
        out[comparison.output_column_name] = {
            level.comparison_vector_value: level.label_for_charts for level in comparison.comparison_levels}
    return out


def evidence_text(labels: dict[str, dict[int, str]]) -> Column:
    """`nid: same; dob: a typo ...; first: nickname or typo; ...` from a scored pair's gamma columns: what
    agreed and how, readable by a reviewer (unknown fields left out)."""
    parts = []
    for name, by_gamma in labels.items():
        gamma = F.col(f"gamma_{name}")
        label = F.coalesce(*[F.when(gamma == value, F.lit(f"{name}: {text}"))
                             for value, text in sorted(by_gamma.items()) if value >= 0])
        parts.append(label)
    return F.concat_ws("; ", *parts)


def at_levels(labels: dict[str, dict[int, str]], alternatives: tuple[dict[str, tuple[str, ...]], ...]) -> Column:
    """True where, for one of the alternatives, every comparison it names is at one of its levels (by label)."""
    met = F.lit(False)
    for required in alternatives:
        condition = F.lit(True)
        for name, wanted in required.items():
            values = [value for value, text in labels[name].items() if text in wanted]
            condition = condition & F.col(f"gamma_{name}").isin(values)
        met = met | condition
    return met


def scored_pairs(fields: DataFrame, materialize, policy: IdentityPolicy) -> DataFrame:
    """fields (rec_id + FIELDS) -> every candidate pair, once, a < b: (a, b, a_<field>, b_<field> for each
    field, match_weight, match_probability, match_evidence, given_names_differ, may_cross_national_ids: the
    pair meets the policy's level requirements for a link across two national ids)."""
    linker = linker_for(model_input(fields), materialize, policy)
    labels = level_labels(linker)
    predicted = linker.inference.predict().as_spark_dataframe()
    # Splink puts the smaller id on the left (dedupe), so (a, b) is the pair's one spelling.
    sides = [F.col(f"{c}_{side}").alias(f"{prefix}_{c}") for c in COMPARED for side, prefix in (("l", "a"), ("r", "b"))]
    return predicted.select(
        F.col("rec_id_l").alias("a"), F.col("rec_id_r").alias("b"), *sides,
        F.round("match_weight", 4).alias("match_weight"),
        F.round("match_probability", 6).alias("match_probability"),
        evidence_text(labels).alias("match_evidence"),
        # Twins share a surname, a birth date, an address, often an email or a phone: summed as if independent,
        # what they share outweighs their given names. So a link on the weight alone (jobs/unify/identity.links)
        # requires given names that do not plainly differ. (Requiring birth dates that do not differ as well,
        # against siblings, cost FEBRL3 1.3 points of recall: its duplicates' birth dates are often rewritten.)
        (F.col("gamma_first") == F.lit(ELSE)).alias("given_names_differ"),
        at_levels(labels, policy.different_national_id_requires).alias("may_cross_national_ids"),
    )
