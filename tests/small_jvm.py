"""Spark settings for a JVM engine (classic or a Connect server) on the tests' small banks.

Small data: the JVM's per-query overhead dominates, and adaptive planning, whole-stage code generation, many shuffle
partitions and Delta's file statistics only add to it (about 40% of a step here). Results are the same.
Expressions are interpreted, not compiled (NO_CODEGEN): each generated class costs a Janino compile and then the JIT's
time, for a few hundred rows; with Delta's log replayed in one task and the serial collector, the JVM's daily DAG on
the parity bank went from 287 s to 239 s (C1-only JIT instead, -XX:TieredStopAtLevel=1: 366 s).
The JIT's compiler threads were then the JVM's largest user of CPU (about 95 of 250 CPU-seconds of a daily run):
with its thresholds raised fourfold (CompileThresholdScaling=4) fewer methods are compiled, and the run took
263 CPU-seconds instead of 293 in the same wall time (220 s; tenfold: 267 CPU-seconds, 237 s).
"""

SMALL_DATA_CONF = (("spark.sql.adaptive.enabled", "false"), ("spark.sql.shuffle.partitions", "1"),
                   ("spark.sql.codegen.wholeStage", "false"), ("spark.sql.codegen.factoryMode", "NO_CODEGEN"),
                   ("spark.databricks.delta.snapshotPartitions", "1"),
                   ("spark.driver.extraJavaOptions", "-XX:+UseSerialGC -XX:CompileThresholdScaling=4"))


def small_data_env() -> dict[str, str]:
    """The settings as the environment passes them to a JVM engine run by `marketofone` (MARKETOFONE_SPARK_CONF)."""
    return {"MARKETOFONE_SPARK_CONF": ",".join(f"{key}={value}" for key, value in SMALL_DATA_CONF)}
