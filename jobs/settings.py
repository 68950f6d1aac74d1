"""One place for configuration: every knob is a MARKETOFONE_* environment variable with an embedded default.

The project home holds everything the product writes (lakehouse, landing files, MLflow store, Airflow
home), so a user can inspect or delete it in one place.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import urllib.parse
from dataclasses import dataclass, field, replace
from pathlib import Path

ENGINES = ("sail", "remote", "jvm")
LAYERS = ("bronze", "silver", "gold", "quarantine", "audit")
PROFILES = ("embedded", "production")
# The Delta jars the JVM engines load (classic Spark and the Spark Connect server the tests start), from Maven
# Central at first start, then from the Ivy cache. Delta 4.4 is built per Spark minor; this one is for Spark 4.2,
# pyspark's version here. (delta-spark's own pip helper asks for its pip version, 4.4.1, which Maven lacks.)
DELTA_PACKAGE = "io.delta:delta-spark_4.2_2.13:4.4.0"
# A catalog or schema-prefix name: what every metastore accepts unquoted.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HOST_PORT = re.compile(r"[A-Za-z0-9_.\-]+:[0-9]{1,5}")


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "")
    return value if value.strip() else default


def _flag(name: str) -> bool:
    value = _env(name, "0").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1 or 0 (true/false, yes/no), got {value!r}")


def _tokenization_key() -> str:
    """MARKETOFONE_TOKENIZATION_KEY, or the content of the file MARKETOFONE_TOKENIZATION_KEY_FILE names; "" when
    neither is set (the embedded profile then uses the home's own key)."""
    key, key_file = _env("MARKETOFONE_TOKENIZATION_KEY", ""), _env("MARKETOFONE_TOKENIZATION_KEY_FILE", "")
    if key and key_file:
        raise ValueError("set MARKETOFONE_TOKENIZATION_KEY or MARKETOFONE_TOKENIZATION_KEY_FILE, not both")
    if key_file:
        from jobs import keys

        return keys.read_key_file(key_file)
    return key


def parse_date(value: str | dt.date) -> dt.date:
    """Parse an ISO date (YYYY-MM-DD) with a clear error instead of a traceback deep in a job."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise ValueError(f"not a date: {value!r} (expected YYYY-MM-DD)") from exc


def table_location(storage: str, layer: str, name: str) -> str:
    """`<storage>/<layer>/<name>` for a storage path or URI (`/srv/lh`, `file:///srv/lh`, `s3://bucket/lh`)."""
    return f"{storage.rstrip('/')}/{layer}/{name}"


def redis_url_problem(url: str) -> str:
    """Why `url` is not a Redis URL the online store accepts (redis://[:password@]host[:port][/db]), or ""."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port   # raises on a port that is not a number
    except ValueError as exc:
        return str(exc)
    if port == 0:
        return "the port is 0"
    if parts.scheme not in ("redis", "rediss"):
        return "the scheme is not redis:// (or rediss:// for TLS)"
    if not parts.hostname:
        return "it names no host"
    if parts.path.strip("/") and not parts.path.strip("/").isdigit():
        return "the database (the path) is not a number"
    if parts.query or parts.fragment:
        return "it has a query or a fragment"
    return ""


def parse_spark_conf(value: str) -> tuple[tuple[str, str], ...]:
    """`key=value,key=value` (Spark settings for the JVM engine, e.g. spark.sql.shuffle.partitions=1)."""
    pairs = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        key, sep, setting = item.partition("=")
        if not sep or not key.strip().startswith("spark.") or not setting.strip():
            raise ValueError(f"MARKETOFONE_SPARK_CONF wants spark.key=value pairs separated by commas, got {item!r}")
        pairs.append((key.strip(), setting.strip()))
    return tuple(pairs)


@dataclass(frozen=True)
class Settings:
    home: Path
    engine: str = "sail"
    spark_remote: str = ""
    tracking_uri: str = ""
    seed: int = 42
    customers: int = 2000
    history_days: int = 365
    label_horizon_days: int = 30
    label_maturity_days: int = 45
    promotion_margin: float = 0.005
    promotion_min_auc: float = 0.55    # the floor: a model with a lower test AUC never becomes champion
    fairness_gate: str = "warn"        # warn: log and show flags; block: a flag stops the channel publish
    late_parent_grace_days: int = 7    # how long a row waits for its parent (account, customer) before quarantine
    # From this size on, a write looks up which keys a table has before a MERGE (Lakehouse._large): on the embedded
    # engine a MERGE reads the whole table; below it, the one MERGE costs less than the extra queries.
    large_table_bytes: int = 64 * 1024 * 1024
    max_malformed_share: float = 0.1   # more malformed lines than this share of a landing file fails the file
    profile: str = "embedded"          # embedded (one machine, no server) or production (MARKETOFONE_PROFILE)
    tokenization_key: str = field(default="", repr=False)  # "" = the home's own random key (jobs/keys.py);
    #                                                         the production profile needs one set
    force_republish: bool = False      # a re-run of a published date may replace its decisions (kept as superseded)
    accept_redelivery: bool = False    # a landing file re-delivered with other content replaces the date's rows
    delta_package: str = DELTA_PACKAGE  # Maven coordinates of the Delta jars for the JVM engine
    spark_conf: tuple[tuple[str, str], ...] = ()  # extra Spark settings for the JVM engine (MARKETOFONE_SPARK_CONF)
    storage: str = ""                  # where the lakehouse tables live (a path or URI); "" = <home>/lakehouse
    # A layer's own location (MARKETOFONE_STORAGE_URI_<LAYER>, e.g. a bucket of its own, opened by its own
    # credentials): (layer, uri) pairs; a layer not named lives in `storage`.
    layer_storage: tuple[tuple[str, str], ...] = ()
    role: str = "all"                  # MARKETOFONE_ROLE: what this process may read and write (jobs/access.py)
    # The names the tables are registered under in the engine's catalog (a Hive metastore, Unity Catalog):
    # `<catalog>.<schema_prefix><layer>.<name>`, e.g. main.mo_gold.customer_360. Both empty: the session-local
    # names (gold.customer_360) that `marketofone sql` and the notebooks register on demand.
    catalog: str = ""                  # MARKETOFONE_CATALOG: a catalog the engine knows (spark_catalog, main)
    schema_prefix: str = ""            # MARKETOFONE_SCHEMA_PREFIX: put before each layer's schema name
    # Training rows per target (jobs/models/sample.py): every eligible positive, and negatives sampled in
    # Spark to min(max(ratio * positives, min), max), weighted 1/sampling rate so probabilities stay calibrated.
    training_negative_ratio: float = 20.0
    training_min_negatives: int = 100_000
    training_max_negatives: int = 1_000_000
    # The production profile runs DAGs through Airflow's REST API (jobs/airflow_api.py): the api-server's address
    # and the user the CLI asks for a token as (no password: the api-server gives every user admin rights).
    airflow_url: str = "http://127.0.0.1:8080"
    airflow_user: str = "admin"
    airflow_password: str = field(default="", repr=False)
    # The decision API's online store (jobs/serve/backend.py, open_store): "" = the embedded SQLite files under
    # <home>/online/; redis://host:port/db = a Redis server (jobs/serve/redis_store.py), which every process of
    # the production stack shares. Out of repr: the URL may carry a password.
    online_store: str = field(default="", repr=False)
    # The event stream's broker (jobs/stream/broker.py): Kafka's bootstrap servers (host:port[,host:port]); "" =
    # the landing folder <home>/stream/events/ (the embedded profile).
    events_broker: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from jobs.access import ROLES

        if self.role not in ROLES:
            raise ValueError(f"MARKETOFONE_ROLE must be one of {', '.join(ROLES)}, got {self.role!r}")
        unknown = [layer for layer, _ in self.layer_storage if layer not in LAYERS]
        if unknown:
            raise ValueError(f"no layer {', '.join(unknown)}: MARKETOFONE_STORAGE_URI_<LAYER> is for "
                             f"{', '.join(LAYERS).upper()}")
        if self.profile not in PROFILES:
            raise ValueError(f"MARKETOFONE_PROFILE must be one of {', '.join(PROFILES)}, got {self.profile!r}")
        if self.profile == "production":
            from jobs import keys

            why = "it is not set" if not self.tokenization_key else keys.weakness(self.tokenization_key)
            if why:
                raise ValueError(f"the production profile needs a strong tokenization key, and {why}: "
                                 f"{keys.HOW_TO_MAKE_ONE}")
        if self.engine not in ENGINES:
            raise ValueError(f"MARKETOFONE_ENGINE must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.engine == "remote" and not self.spark_remote:
            raise ValueError("MARKETOFONE_ENGINE=remote needs SPARK_REMOTE=sc://host:port")
        if not self.promotion_margin >= 0:
            raise ValueError(f"MARKETOFONE_PROMOTION_MARGIN must be >= 0, got {self.promotion_margin}")
        if not 0 <= self.promotion_min_auc <= 1:
            raise ValueError(f"MARKETOFONE_PROMOTION_MIN_AUC must be between 0 and 1, got {self.promotion_min_auc}")
        if self.fairness_gate not in ("warn", "block"):
            raise ValueError(f"MARKETOFONE_FAIRNESS_GATE must be warn or block, got {self.fairness_gate!r}")
        if not 0 <= self.max_malformed_share <= 1:
            raise ValueError(f"MARKETOFONE_MAX_MALFORMED_SHARE must be between 0 and 1, got {self.max_malformed_share}")
        if self.large_table_bytes < 0:
            raise ValueError(f"MARKETOFONE_LARGE_TABLE_BYTES must be >= 0, got {self.large_table_bytes}")
        if self.late_parent_grace_days < 0:
            raise ValueError(f"MARKETOFONE_LATE_PARENT_GRACE_DAYS must be >= 0, got {self.late_parent_grace_days}")
        if not self.training_negative_ratio > 0:
            raise ValueError(f"MARKETOFONE_TRAINING_NEGATIVE_RATIO must be > 0, got {self.training_negative_ratio}")
        if not 0 <= self.training_min_negatives <= self.training_max_negatives or self.training_max_negatives < 1:
            raise ValueError("MARKETOFONE_TRAINING_MIN_NEGATIVES must be >= 0 and at most "
                             "MARKETOFONE_TRAINING_MAX_NEGATIVES (>= 1), "
                             f"got {self.training_min_negatives} and {self.training_max_negatives}")
        if self.customers < 1:
            raise ValueError(f"MARKETOFONE_CUSTOMERS must be positive, got {self.customers}")
        if self.events_broker and not all(_HOST_PORT.fullmatch(s.strip()) for s in self.events_broker.split(",")):
            raise ValueError("MARKETOFONE_EVENTS_BROKER must be Kafka's bootstrap servers, host:port[,host:port], "
                             f"got {self.events_broker!r}")
        if self.catalog and not _IDENTIFIER.fullmatch(self.catalog):
            raise ValueError(f"MARKETOFONE_CATALOG must be a plain name (letters, digits, _), got {self.catalog!r}")
        if self.schema_prefix and not _IDENTIFIER.fullmatch(self.schema_prefix):
            raise ValueError("MARKETOFONE_SCHEMA_PREFIX must be a plain name prefix (letters, digits, _), "
                             f"got {self.schema_prefix!r}")
        if self.online_store and (why := redis_url_problem(self.online_store)):
            raise ValueError("MARKETOFONE_ONLINE_STORE must be empty (the embedded store under <home>/online) or "
                             f"a Redis URL, redis://host:port/db, and {why}")

    @classmethod
    def from_env(cls) -> "Settings":
        home = Path(_env("MARKETOFONE_HOME", ".marketofone")).expanduser().resolve()
        spark_remote = os.environ.get("SPARK_REMOTE", "")
        engine = _env("MARKETOFONE_ENGINE", "remote" if spark_remote else "sail")
        try:
            return cls(
                home=home,
                engine=engine,
                spark_remote=spark_remote,
                tracking_uri=_env("MARKETOFONE_TRACKING_URI", ""),
                seed=int(_env("MARKETOFONE_SEED", "42")),
                customers=int(_env("MARKETOFONE_CUSTOMERS", "2000")),
                history_days=int(_env("MARKETOFONE_HISTORY_DAYS", "365")),
                label_horizon_days=int(_env("MARKETOFONE_LABEL_HORIZON_DAYS", "30")),
                label_maturity_days=int(_env("MARKETOFONE_LABEL_MATURITY_DAYS", "45")),
                promotion_margin=float(_env("MARKETOFONE_PROMOTION_MARGIN", "0.005")),
                promotion_min_auc=float(_env("MARKETOFONE_PROMOTION_MIN_AUC", "0.55")),
                fairness_gate=_env("MARKETOFONE_FAIRNESS_GATE", "warn"),
                late_parent_grace_days=int(_env("MARKETOFONE_LATE_PARENT_GRACE_DAYS", "7")),
                large_table_bytes=int(_env("MARKETOFONE_LARGE_TABLE_BYTES", str(64 * 1024 * 1024))),
                max_malformed_share=float(_env("MARKETOFONE_MAX_MALFORMED_SHARE", "0.1")),
                profile=_env("MARKETOFONE_PROFILE", "embedded"),
                tokenization_key=_tokenization_key(),
                force_republish=_flag("MARKETOFONE_FORCE_REPUBLISH"),
                accept_redelivery=_flag("MARKETOFONE_ACCEPT_REDELIVERY"),
                delta_package=_env("MARKETOFONE_DELTA_PACKAGE", DELTA_PACKAGE),
                spark_conf=parse_spark_conf(_env("MARKETOFONE_SPARK_CONF", "")),
                storage=_env("MARKETOFONE_STORAGE_URI", ""),
                layer_storage=tuple((layer, uri) for layer in LAYERS
                                    if (uri := _env(f"MARKETOFONE_STORAGE_URI_{layer.upper()}", "").rstrip("/"))),
                role=_env("MARKETOFONE_ROLE", "all"),
                catalog=_env("MARKETOFONE_CATALOG", ""),
                schema_prefix=_env("MARKETOFONE_SCHEMA_PREFIX", ""),
                training_negative_ratio=float(_env("MARKETOFONE_TRAINING_NEGATIVE_RATIO", "20")),
                training_min_negatives=int(_env("MARKETOFONE_TRAINING_MIN_NEGATIVES", "100000")),
                training_max_negatives=int(_env("MARKETOFONE_TRAINING_MAX_NEGATIVES", "1000000")),
                airflow_url=_env("MARKETOFONE_AIRFLOW_URL", "http://127.0.0.1:8080"),
                airflow_user=_env("MARKETOFONE_AIRFLOW_USER", "admin"),
                airflow_password=_env("MARKETOFONE_AIRFLOW_PASSWORD", ""),
                events_broker=_env("MARKETOFONE_EVENTS_BROKER", ""),
                online_store=_env("MARKETOFONE_ONLINE_STORE", "").strip(),
            )
        except ValueError as exc:
            raise ValueError(f"bad MARKETOFONE_* setting: {exc}") from exc

    def token_key(self) -> str:
        """The key of the PII tokens: the one set (MARKETOFONE_TOKENIZATION_KEY[_FILE]), else the home's own,
        made on first use (jobs/keys.py)."""
        if self.tokenization_key:
            return self.tokenization_key
        from jobs import keys

        return keys.home_key(self.home)

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    # Everything the product writes lives under the home.
    @property
    def lakehouse(self) -> Path:
        return self.home / "lakehouse"

    @property
    def storage_uri(self) -> str:
        """Where the lakehouse's Delta tables live: MARKETOFONE_STORAGE_URI (`s3://bucket/lakehouse`,
        `file:///srv/lakehouse`, a path), else the home's `lakehouse/` folder. Table locations are
        `<storage_uri>/<layer>/<name>` (jobs/tables.py)."""
        return self.storage.rstrip("/") if self.storage.strip() else str(self.lakehouse)

    def storage_for(self, layer: str) -> str:
        """Where a layer's tables live: its own MARKETOFONE_STORAGE_URI_<LAYER>, else `storage_uri`. Tables are at
        `<storage_for(layer)>/<layer>/<name>` (so with one storage, as in the embedded profile, nothing moves)."""
        return dict(self.layer_storage).get(layer) or self.storage_uri

    @property
    def registers_names(self) -> bool:
        """Whether each write registers its table in the engine's catalog (MARKETOFONE_CATALOG or
        MARKETOFONE_SCHEMA_PREFIX set)."""
        return bool(self.catalog or self.schema_prefix)

    def table_name(self, layer: str, name: str) -> str:
        """The table's name in SQL: `[<catalog>.]<schema_prefix><layer>.<name>`."""
        schema = f"{self.schema_prefix}{layer}"
        return f"{self.catalog}.{schema}.{name}" if self.catalog else f"{schema}.{name}"

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def ground_truth(self) -> Path:
        """The generator's answers (true person behind each silo id); never loaded into the lakehouse."""
        return self.home / "ground_truth"

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def dq_dir(self) -> Path:
        return self.home / "data_quality"

    @property
    def mlflow_uri(self) -> str:
        return self.tracking_uri or f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def mlflow_artifacts(self) -> str:
        return (self.mlflow_dir / "artifacts").as_uri()
