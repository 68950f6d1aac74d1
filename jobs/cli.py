"""The `marketofone` command: generate a bank, run steps or DAGs, look at the lakehouse."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path

from jobs.console import print_table as _print_table
from jobs.domain import CHANNELS
from jobs.settings import Settings, parse_date

DEFAULT_DATE = "2026-06-30"


def _settings(args) -> Settings:
    settings = Settings.from_env()
    changes = {}
    if getattr(args, "customers", None):
        changes["customers"] = args.customers
    if getattr(args, "seed", None) is not None:
        changes["seed"] = args.seed
    return settings.with_(**changes) if changes else settings


def cmd_generate(args) -> int:
    from jobs.generate import generate_bank, generate_days

    settings = _settings(args)
    started = time.perf_counter()
    if args.from_date or args.to_date:
        if not (args.from_date and args.to_date):
            raise ValueError("--from and --to go together: the first and the last day of daily increments")
        summaries = generate_days(settings, parse_date(args.from_date), parse_date(args.to_date), events=args.events)
        print(f"generated {len(summaries)} daily increment(s) of a bank of {settings.customers} people in "
              f"{time.perf_counter() - started:.1f}s")
        files = list(summaries[0]["files"])
        _print_table([{"file": f, **{s["as_of"].isoformat(): s["files"][f] for s in summaries}} for f in files])
    else:
        day = parse_date(args.date)
        summary = generate_bank(settings, day, daily=args.daily, events=args.events)
        kind = "a daily increment" if args.daily else f"a full export ({summary['first_day']} to {day})"
        print(f"generated {kind} of a bank of {summary['persons']} people for {day} in "
              f"{time.perf_counter() - started:.1f}s")
        _print_table([{"file": k, "rows": v} for k, v in summary["files"].items()])
    print(f"landing files: {settings.landing}")
    if args.events:
        print(f"events (the days' activity in time order): {settings.home / 'stream' / 'events'}")
    return 0


def _dates(args) -> list[dt.date]:
    """--date D, or every day of --from D1 --to D2 (a backfill), in order."""
    if args.from_date or args.to_date:
        if not (args.from_date and args.to_date) or args.date:
            raise ValueError("give either --date, or --from and --to (a range of dates run one after the other)")
        first, last = parse_date(args.from_date), parse_date(args.to_date)
        if last < first:
            raise ValueError(f"--to {last} is before --from {first}")
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    if not args.date:
        raise ValueError("give --date (or --from and --to)")
    return [parse_date(args.date)]


def cmd_run(args) -> int:
    settings = _settings(args)
    days = _dates(args)
    from jobs import production

    production.check(settings, dict(os.environ))  # in the production profile: every service set and answering
    from jobs.orchestrate import DAG_IDS

    if args.target in DAG_IDS and settings.profile == "production" and len(days) > 1:
        return _backfill_through_scheduler(args.target, days, settings)
    if args.target in DAG_IDS:
        from jobs.orchestrate import DagRunError, run_dag

        for i, day in enumerate(days):
            try:
                outcome = run_dag(args.target, day, settings, verbose=args.verbose)
            except DagRunError as exc:
                if i + 1 < len(days):  # a backfill stops at its first failed date: say what is left
                    raise DagRunError(f"{exc}\n  backfill stopped at {day}: {i} date(s) done before it, not run: "
                                      f"{days[i + 1]} to {days[-1]}") from None
                raise
            print(f"DAG {args.target} for {day}: {outcome['state']}")
            _print_table([{"task": t, "state": s} for t, s in sorted(outcome["tasks"].items())])
            print(f"log: {outcome['log']}")
        return 0
    if len(days) > 1:
        raise ValueError("a date range runs a whole DAG; run a single step for one --date")
    day = days[0]
    from jobs.pipeline import run_step

    kwargs = {"silo": args.silo} if args.silo else {}
    if args.target_name:
        kwargs["target"] = args.target_name
    result = run_step(args.target, day, settings, **kwargs)
    print(f"step {result.step} for {day} in {result.seconds:.1f}s")
    _print_table([{"table": k, "rows": v} for k, v in result.tables.items()])
    if result.details:
        print(json.dumps(result.details, indent=2, default=str))
    return 0


def _backfill_through_scheduler(dag_id: str, days: list[dt.date], settings) -> int:
    """A date range in the production profile: one backfill the scheduler runs, date after date."""
    from jobs import airflow_api
    from jobs.orchestrate import DagRunError, record_outcome, succeeded

    outcomes = [record_outcome(o, settings) for o in airflow_api.backfill(dag_id, days[0], days[-1], settings)]
    _print_table([{"date": o["date"], "state": o["state"],
                   "failed tasks": ", ".join(t for t, s in sorted(o["tasks"].items()) if s != "success")}
                  for o in outcomes])
    failed = [o["date"] for o in outcomes if not succeeded(o)]
    if failed:
        raise DagRunError(f"backfill of {dag_id} from {days[0]} to {days[-1]}: {len(failed)} of {len(outcomes)} "
                          f"runs did not succeed ({', '.join(failed)}); each run's page: {outcomes[0]['log']} ...")
    print(f"backfill of {dag_id}: {len(outcomes)} runs succeeded, {days[0]} to {days[-1]}")
    return 0


def cmd_tables(args) -> int:
    from jobs.tables import Lakehouse

    if args.describe:
        from jobs.lineage import describe

        print(describe(args.describe))   # the declaration and the flow: no lakehouse needed
        return 0
    settings = _settings(args)
    # delta-rs reads the tables directly: listing needs no Spark session.
    rows = Lakehouse(None, settings).describe()
    if not rows:
        raise FileNotFoundError(_no_lakehouse(settings))
    _print_table(rows, ["table", "version", "rows", "path"])
    return 0


def _no_lakehouse(settings: Settings) -> str:
    where = "from MARKETOFONE_HOME" if os.environ.get("MARKETOFONE_HOME") else \
        "the default; MARKETOFONE_HOME sets another"
    if settings.storage:
        return (f"no lakehouse tables at MARKETOFONE_STORAGE_URI={settings.storage_uri}. Create them with "
                "`marketofone generate --date 2026-06-30` then "
                "`marketofone run personalization_daily --date 2026-06-30`")
    state = "holds no tables" if settings.lakehouse.is_dir() else "does not exist"
    return (f"no lakehouse in the home {settings.home} ({where}): {settings.lakehouse} {state}. Create one with "
            "`make demo`, or `marketofone generate --date 2026-06-30` then "
            "`marketofone run personalization_daily --date 2026-06-30`")


def cmd_sql(args) -> int:
    """A read statement (its rows), or with --write a DELETE / UPDATE / INSERT / MERGE on a lakehouse table
    (what it changed and the table's new Delta version); everything else is refused (jobs/query.py)."""
    from pyspark.errors import PySparkException

    from jobs.pipeline import lakehouse
    from jobs.query import check, classify
    from jobs.tables import Lakehouse

    statement = classify(args.query)
    check(statement, args.write)
    settings = _settings(args)
    files = Lakehouse(None, settings)  # delta-rs: versions and commit metrics, no Spark session
    if statement.writes:
        target = _write_target(files, statement)
        before = files.version(target)
    try:
        df = lakehouse(settings).sql(args.query)
        if statement.writes:
            df.collect()
        else:
            columns = df.columns
            rows = [r.asDict() for r in df.limit(args.limit).collect()]
    except PySparkException as exc:
        raise _sql_failure(exc, statement, files) from None
    if statement.writes:
        print(_what_changed(files, statement.verb, target, before))
    elif args.json:
        print(json.dumps(rows, default=str, indent=2))
    else:
        _print_table(rows, columns)
    return 0


def _write_target(files, statement) -> str:
    """The registered, written table a row change names, or an error listing the tables it could be."""
    from jobs.query import QueryError, layer_tables
    from jobs.tables import LAYERS, REGISTRY

    typed = statement.target or ""
    name = typed.lower()
    layer = name.split(".")[0]
    written = {n for n in REGISTRY if files.exists(n)}
    if name not in REGISTRY:
        known = layer_tables(layer, written) if layer in LAYERS and "." in name else \
            f"lakehouse tables are named <layer>.<name> ({', '.join(LAYERS)}); `marketofone tables` lists them"
        raise QueryError(f"{statement.verb.upper()} names {typed or 'no table'}, not a lakehouse table; {known}")
    if name not in written:
        raise FileNotFoundError(f"table {name} has not been written yet (expected at {files.path(name)}); "
                                "run the step that produces it first")
    return name


def _what_changed(files, verb: str, target: str, before: int) -> str:
    """`DELETE on gold.kpi_daily: 12 rows deleted; version 3 -> 4`, from the Delta log's commit metrics."""
    after = files.version(target)
    if after == before:
        return f"{verb.upper()} on {target}: nothing changed (the table stays at version {before})"
    commits = [h for h in files.history(target, after - before) if h.get("version", after) > before]
    metrics: dict[str, int] = {}
    for commit in commits:
        for key, value in (commit.get("operationMetrics") or {}).items():
            if isinstance(value, int):
                metrics[key] = metrics.get(key, 0) + value
    counts = {"inserted": metrics.get("numTargetRowsInserted", metrics.get("numOutputRows") if verb == "insert"
                                      else None),
              "updated": metrics.get("numUpdatedRows", metrics.get("numTargetRowsUpdated")),
              "deleted": metrics.get("numDeletedRows", metrics.get("numTargetRowsDeleted"))}
    done = ", ".join(f"{n:,} row{'s' if n != 1 else ''} {what}" for what, n in counts.items() if n)
    return (f"{verb.upper()} on {target}: {done or 'no rows changed'}; table version {before} -> {after} "
            f"(version {before} stays readable by Delta time travel; `marketofone history {target}` lists them)")


def _sql_failure(exc, statement, files) -> Exception:
    """The engine's reason in one line; a table the query names that the lakehouse lacks, by the name typed,
    with the tables of its layer."""
    from jobs.query import QueryError, lakehouse_names, layer_tables
    from jobs.tables import REGISTRY

    message = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    if "not found" in message.lower() and ("table" in message.lower() or "view" in message.lower()):
        written = {n for n in REGISTRY if files.exists(n)}
        for typed in lakehouse_names(statement):
            name = typed.lower()
            if name not in REGISTRY:
                return QueryError(f"unknown table {typed}; {layer_tables(name.split('.')[0], written)}")
            if name not in written:
                return FileNotFoundError(f"table {name} has not been written yet (expected at {files.path(name)}); "
                                         "run the step that produces it first")
        return QueryError(f"{message} (lakehouse tables are named <layer>.<name>, e.g. gold.customer_360; "
                          "`marketofone tables` lists them)")
    return QueryError(message)


def cmd_history(args) -> int:
    from jobs import maintenance
    from jobs.tables import Lakehouse

    history = maintenance.history(Lakehouse(None, _settings(args)).path(args.table), args.limit)
    def when(ms):  # delta-rs gives commit times in epoch milliseconds
        return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat(timespec="seconds") if ms else ""

    _print_table([{"version": h.get("version"), "timestamp": when(h.get("timestamp")),
                   "operation": h.get("operation")} for h in history])
    return 0


def cmd_maintain(args) -> int:
    """Compact (OPTIMIZE) and vacuum every lakehouse table that exists, one line per table (jobs/maintenance.py,
    delta-rs: no Spark session)."""
    from jobs import maintenance
    from jobs.tables import REGISTRY, Lakehouse

    settings = _settings(args)
    if args.vacuum_hours < 0:
        raise ValueError(f"--vacuum-hours must be >= 0, got {args.vacuum_hours}")
    done = maintenance.maintain_all(Lakehouse(None, settings), REGISTRY, args.vacuum_hours, dry_run=args.dry_run)
    if not done:
        raise FileNotFoundError(_no_lakehouse(settings))
    for table in done:
        print(table.line())
    removed = sum(len(t.vacuumed) for t in done)
    print(f"{len(done)} table(s); files {sum(t.files_before for t in done)} -> {sum(t.files_after for t in done)}; "
          f"vacuum {'would remove' if args.dry_run else 'removed'} {removed} file(s) older than "
          f"{args.vacuum_hours} hour(s)" + (" (dry run: nothing changed)" if args.dry_run else ""))
    return 0


def cmd_retention(args) -> int:
    """Apply the retention policy for a logical date (jobs/retention/): one line per table and folder, what was (or,
    with --dry-run, would be) removed."""
    from jobs.pipeline import lakehouse
    from jobs.retention import policy as retention_policy
    from jobs.retention.run import run as apply_retention

    settings = _settings(args)
    policy = retention_policy.load(args.policy)   # a bad policy is refused before a Spark session starts
    day = parse_date(args.date) if args.date else dt.date.today()
    done = apply_retention(lakehouse(settings), day, dry_run=args.dry_run, policy=policy)
    for removed in done:
        print(removed.line(args.dry_run))
    rows = sum(r.rows or 0 for r in done)
    files = sum(r.files for r in done)
    print(f"retention of {day} (policy {policy.version}): {'would remove' if args.dry_run else 'removed'} {rows:,} "
          f"row(s)" + ("" if args.dry_run else f" and {files:,} file(s)")
          + (" (dry run: nothing changed)" if args.dry_run else ""))
    return 0


def dq_rows(settings: Settings, day=None, failed: bool = False, table: str | None = None) -> tuple:
    """(date shown, rows) from audit.dq_results: one date (the latest when none is given), failed
    expectations first within each table. Read with delta-rs: no Spark session needed."""
    from jobs.tables import Lakehouse

    lh = Lakehouse(None, settings)
    if not lh.exists("audit.dq_results"):
        raise FileNotFoundError(f"no data-quality results yet (expected audit.dq_results at "
                                f"{lh.path('audit.dq_results')}); run ingest or silver first")
    rows = lh.rows("audit.dq_results").to_pylist()
    if table:
        _check_dq_table(table, {r["table"] for r in rows})
    dates = sorted({r["run_date"] for r in rows})
    day = parse_date(day) if day else (dates[-1] if dates else None)
    if day not in dates:
        known = ", ".join(d.isoformat() for d in dates[-10:]) or "none"
        raise ValueError(f"no data-quality results for {day}; dates with results: {known}")
    rows = [r for r in rows if r["run_date"] == day and (not failed or not r["success"])
            and (not table or r["table"] == table or r["table"].startswith(table))]
    rows.sort(key=lambda r: (r["table"], r["success"], r["expectation"], r["column"]))
    return day, rows


def _check_dq_table(table: str, validated: set[str]) -> None:
    """`--table` must name a table with results (or a prefix of some, e.g. `bronze.`)."""
    from jobs.tables import REGISTRY

    if any(t == table or t.startswith(table) for t in validated):
        return
    what = ("has no data-quality results (no suite validates it)" if table in REGISTRY
            else "is not a lakehouse table")
    raise LookupError(f"{table} {what}; tables with data-quality results: {', '.join(sorted(validated))}")


def cmd_dq(args) -> int:
    day, rows = dq_rows(_settings(args), args.date, args.failed, args.table)
    every = dq_rows(_settings(args), day, False, args.table)[1]
    failures = [r for r in every if not r["success"]]
    print(f"data quality on {day}: {len(every)} expectation result(s) over "
          f"{len({r['table'] for r in every})} table(s), {len(failures)} failed"
          + (f" (in {', '.join(sorted({r['table'] for r in failures}))})" if failures else ""))
    _print_table([{**r, "success": "yes" if r["success"] else "FAILED"} for r in rows],
                 ["table", "expectation", "column", "success", "unexpected_count", "details"])
    return 0


def read_frame(settings: Settings, ref: str):
    """A lakehouse table by name (`gold.training_set`, read with delta-rs), or a .parquet / .csv file."""
    import pandas as pd

    from jobs.tables import REGISTRY, Lakehouse

    if ref in REGISTRY:
        lh = Lakehouse(None, settings)
        return lh.rows(ref).to_pandas() if lh.exists(ref) else _missing(f"table {ref} has not been written yet")
    path = os.path.expanduser(ref)
    if ref.endswith(".parquet"):
        return pd.read_parquet(path) if os.path.exists(path) else _missing(f"no file {path}")
    if ref.endswith(".csv"):
        return pd.read_csv(path) if os.path.exists(path) else _missing(f"no file {path}")
    raise ValueError(f"--table must be a lakehouse table (e.g. gold.training_set) or a .parquet/.csv file, got {ref!r}")


def _missing(message: str):
    raise FileNotFoundError(message)


def _columns(text: str | None) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip()) if text else ()


def cmd_identity_review(args) -> int:
    """The pairs of silo records waiting for a reviewer (audit.identity_review of a date, less the decided
    ones), or, with --decisions FILE, keep a reviewer's decisions for the next silver run (jobs/unify/review.py)."""
    from pyspark.sql import functions as F

    from jobs.pipeline import lakehouse
    from jobs.unify import review

    lh = lakehouse(_settings(args))
    if not lh.exists(review.REVIEW_TABLE):
        raise LookupError(f"nothing to review yet: the silver step writes {review.REVIEW_TABLE}")
    reviewed = lh.read(review.REVIEW_TABLE)
    if args.decisions:
        rows = review.read_decision_file(Path(args.decisions))
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        lh.write(review.DECISION_TABLE, review.decided_pairs(reviewed, rows, now), count=False)
        same = sum(r["decision"] == "same" for r in rows)
        print(f"{len(rows)} decision(s) kept in {review.DECISION_TABLE}: {same} same person, {len(rows) - same} "
              "different people; the next silver run honours them")
        return 0
    day = parse_date(args.date) if args.date else lh.bound(review.REVIEW_TABLE, "as_of_date", "max")
    pending = reviewed.where(F.col("as_of_date") == F.lit(day))
    if lh.exists(review.DECISION_TABLE):
        pending = pending.join(lh.read(review.DECISION_TABLE).select("pair_id"), "pair_id", "left_anti")
    total = pending.count()
    columns = ["pair_id", "silo_a", "silo_customer_id_a", "silo_b", "silo_customer_id_b", "match_weight",
               "match_probability", "match_evidence"]
    shown = [r.asDict() for r in pending.orderBy(F.desc("match_weight"), "pair_id").limit(args.limit).collect()]
    print(f"{total} pair(s) waiting for review on {day}" + (f", the {len(shown)} strongest:" if total else ""))
    _print_table(shown, columns)
    if total:
        print("decide with a CSV file (pair_id,decision,reviewer,note; decision: same or different): "
              "marketofone identity-review --decisions FILE")
    return 0


def cmd_erase(args) -> int:
    """Queue an erasure request (GDPR Art. 17) for the erasure DAG, carry the queue out now (--now), or show the
    requests and what each took away (--status). jobs/privacy/erasure.py."""
    from jobs.pipeline import lakehouse
    from jobs.privacy import erasure

    settings = _settings(args)
    if args.status is not None or not (args.customer or args.now):
        return _erasure_status(lakehouse(settings), args.status or None)
    if args.customer:
        erasure_id = erasure.queue(lakehouse(settings), args.customer, args.reason or "")
        print(f"erasure {erasure_id} queued for {args.customer}")
    if not args.now:
        print("the erasure DAG carries it out at its next run; now: marketofone erase --now (or marketofone run "
              "erasure); then marketofone erase --status " + (erasure_id if args.customer else ""))
        return 0
    from jobs.orchestrate import run_dag

    day = parse_date(args.date) if args.date else dt.date.today()
    outcome = run_dag("erasure", day, settings, verbose=args.verbose)
    print(f"DAG erasure for {day}: {outcome['state']}")
    return _erasure_status(lakehouse(settings), erasure_id if args.customer else None)


def _erasure_status(lh, erasure_id: str | None) -> int:
    from pyspark.sql import functions as F

    from jobs.privacy import erasure

    if not lh.exists(erasure.REQUESTS):
        print("no erasure request yet: marketofone erase --customer ID --reason TEXT")
        return 0
    requests = lh.read(erasure.REQUESTS)
    if erasure_id:
        requests = requests.where(F.col("erasure_id") == erasure_id)
        if not requests.limit(1).count():
            raise LookupError(f"no erasure request {erasure_id!r} (marketofone erase --status lists them)")
    shown = [r.asDict() for r in requests.orderBy(F.desc("requested_at")).limit(50).collect()]
    _print_table(shown, ["erasure_id", "requested_at", "status", "completed_on", "reason", "message"])
    if erasure_id:
        rows = [r.asDict() for r in erasure.report(lh, erasure_id)]
        print(f"\nwhat erasure {erasure_id} took away:")
        _print_table(rows, ["kind", "object", "rows_removed", "rows_redacted", "files_purged", "note"])
    return 0


def cmd_rotate_key(args) -> int:
    """A new tokenization key: every token past bronze re-made with it from bronze's values, the tables' old
    versions purged, the old key retired (jobs/key_rotation.py). The home's own key is replaced here; a key set
    from outside (MARKETOFONE_TOKENIZATION_KEY[_FILE], the production profile's secret) is replaced by the
    operator, with the file given in --new-key-file, once the rotation is done."""
    from jobs import key_rotation, keys
    from jobs.pipeline import lakehouse

    settings = _settings(args)
    given = keys.read_key_file(args.new_key_file) if args.new_key_file else None
    own_key = not settings.tokenization_key
    if not own_key and given is None:
        raise ValueError("the tokenization key is set from outside (MARKETOFONE_TOKENIZATION_KEY[_FILE]): make a new "
                         f"one, pass it with --new-key-file, then put it in the secret ({keys.HOW_TO_MAKE_ONE})")
    old = keys.fingerprint(settings.token_key())
    new_key = keys.pending_home_key(settings.home, given) if own_key else given
    done = key_rotation.rotate(lakehouse(settings), new_key, forget_unmapped=args.forget_unmapped)
    if own_key:
        keys.install_home_key(settings.home)
    _print_table([{"table": r.table, "token columns": ", ".join(r.columns), "rows rewritten": r.rows,
                   "tokens forgotten": r.forgotten, "old files removed": r.files_removed} for r in done])
    new = keys.fingerprint(new_key)
    if own_key:
        print(f"the home's tokenization key is now the key of fingerprint {new}; the old one ({old}) is gone from "
              f"{settings.home / 'secrets'} and refused from now on ({key_rotation.AUDIT_TABLE})")
    else:
        print(f"rotated to the key of fingerprint {new}; the old one ({old}) is retired and refused from now on: put "
              "the new key in the secret (the file MARKETOFONE_TOKENIZATION_KEY_FILE names; in the stack, "
              "secrets/tokenization.key) and destroy every copy of the old one")
    return 0


def cmd_train(args) -> int:
    """A model for any labelled table: a small cross-validated search within --time-budget, a refit on every
    training row, a test on --test-table or on a held-out share of --table (jobs/models/train.py, train_table)."""
    from jobs.models.search import describe
    from jobs.models.train import HOLDOUT, ModelSpec, train_table

    settings = _settings(args)
    frame = read_frame(settings, args.table)
    test_frame = read_frame(settings, args.test_table) if args.test_table else None
    spec = ModelSpec(name=args.name, label=args.label, experiment="marketofone-custom", time_column=args.time_column,
                     id_columns=_columns(args.id_columns), exclude=_columns(args.exclude),
                     description=f"trained by marketofone train on {args.table}, label {args.label}"
                                 + (f", tested on {args.test_table}" if args.test_table else ""),
                     tags={"source": args.table, **({"test_source": args.test_table} if args.test_table else {})})
    print(f"test rows: {_test_rows_said(args, HOLDOUT)}; searching settings by {args.time_budget:g}s of "
          "cross-validation on the training rows", flush=True)
    result = train_table(frame, spec, settings, test_frame=test_frame, time_budget=args.time_budget,
                         max_trials=args.max_trials, margin=args.margin,
                         progress=lambda line: print(f"  {line}", file=sys.stderr, flush=True))
    found, split = result.search, result.split
    print(f"search: {found['tried']} of {found['planned']} candidates in {found['seconds']:.0f}s; best "
          f"{found['folds']}-fold CV AUC {found['cv_auc']:.4f} (+/- {found['cv_auc_std']:.4f}) at {found['rounds']} "
          f"rounds: {describe(found['params'])}")
    print(f"refit on all {split['n_fit']} training rows ({split['positives_train']} positive)")
    print(f"model {result.name} v{result.version}: test AUC {result.auc:.4f} on {split['n_test']} rows of "
          f"{split['test']} ({split['positives_test']} positive), PR-AUC {result.test.pr_auc:.4f}, "
          f"Brier {result.test.brier:.4f}, lift in the top decile {result.test.lift_top_decile:.2f}; "
          f"{len(result.features)} features")
    print(f"{'promoted to champion' if result.promoted else 'stays challenger'}: {result.reason}")
    print(f"MLflow run {result.run_id} in experiment marketofone-custom ({settings.mlflow_uri})")
    return 0


def _test_rows_said(args, holdout: float) -> str:
    """Which rows the test AUC will be measured on, in words."""
    if args.test_table:
        return f"every row of {args.test_table} (the model trains on every row of {args.table})"
    if args.time_column:
        return f"the rows of the latest {args.time_column} in {args.table} (the model trains on the earlier ones)"
    return (f"{holdout:.0%} of {args.table} held out, stratified and seeded (the model trains on the other "
            f"{1 - holdout:.0%}; give --test-table FILE to train on all of it)")


def cmd_score(args) -> int:
    import json

    from jobs.models.score import score

    settings = _settings(args)
    frame = read_frame(settings, args.table)
    # Without --id-columns, the ones the model was trained with (it remembers them), else customer_id.
    scored = score(frame, args.model, settings, id_columns=_columns(args.id_columns) or None)
    out = os.path.expanduser(args.out)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    if out.endswith(".csv"):
        scored.assign(reason_codes=scored["reason_codes"].map(json.dumps)).to_csv(out, index=False)
    elif out.endswith(".parquet"):
        scored.to_parquet(out, index=False)
    else:
        raise ValueError(f"--out must end in .parquet or .csv, got {args.out!r}")
    print(f"scored {len(scored)} row(s) with {args.model} v{scored['model_version'].iloc[0] if len(scored) else '-'}"
          f" -> {out}")
    return 0


def cmd_why(args) -> int:
    from jobs.decide.explain import explain
    from jobs.tables import Lakehouse

    answer = explain(Lakehouse(None, _settings(args)), args.customer, parse_date(args.date), args.offer)
    if args.json:
        # Strict JSON: a missing number is null (explain cleans NaN), never the NaN token.
        print(json.dumps(answer, default=str, indent=2, allow_nan=False))
    else:
        print("\n".join(answer["answer"]))
    return 0


def cmd_evaluate_policy(args) -> int:
    """A candidate policy file evaluated off-policy on the logged decisions against the current policy
    (jobs/decide/policy_promotion.py); the report printed and logged to MLflow."""
    from jobs.decide.catalog import load_policy
    from jobs.decide.policy_promotion import log_to_mlflow, logged_candidates, report
    from jobs.engine import spark_session
    from jobs.tables import Lakehouse

    settings = _settings(args)
    start, end = (parse_date(d) if d else None for d in (args.date_from, args.date_to))
    lh = Lakehouse(spark_session(settings), settings)
    candidates = lh.scratch(logged_candidates(lh, start, end), "policy_evaluation")
    result = report(candidates, load_policy(), load_policy(args.candidate))
    for name in ("current", "candidate"):
        for key, v in sorted(result["estimates"][name].items()):
            if v["estimate"] is not None:
                print(f"{name:9} {key:17} {v['estimate']:.4f}  [{v['lower']:.4f}, {v['upper']:.4f}]  n={v['n']}")
    print(f"{'promote' if result['promote'] else 'keep the current policy'}: {result['reason']}")
    run_id = log_to_mlflow(settings, result, {"candidate": args.candidate, "from": args.date_from or "",
                                              "to": args.date_to or ""})
    print(f"MLflow run {run_id} in experiment marketofone-policy ({settings.mlflow_uri})")
    return 0


def cmd_offers(args) -> int:
    """What a channel pulls: its offers of a published date (the latest published by default), printed or
    exported. A date is published when gold.channel_publication has its row, even with 0 offers; a date
    never published is an error, not an empty list. Read with delta-rs: no Spark session."""
    from jobs.decide.channels import pull_offers
    from jobs.tables import Lakehouse

    day = None if args.date == "latest" else parse_date(args.date)
    marker, frame = pull_offers(Lakehouse(None, _settings(args)), args.channel, day)
    published = marker["published_at"].isoformat(timespec="seconds")
    head = (f"{len(frame)} {args.channel} offer(s) of {marker['as_of_date']} (table version {marker['table_version']})"
            f" published at {published}")
    if args.out:
        out = os.path.expanduser(args.out)
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        if out.endswith(".csv"):
            frame.to_csv(out, index=False)
        elif out.endswith(".parquet"):
            frame.to_parquet(out, index=False)
        else:
            raise ValueError(f"--out must end in .parquet or .csv, got {args.out!r}")
        print(f"{head} -> {out}")
        return 0
    print(head)
    _print_table(frame.head(args.limit).to_dict("records"),
                 ["customer_id", "rank", "offer_id", "price", "price_unit", "score", "valid_to", "reason"])
    return 0


def cmd_serve(args) -> int:
    """The decision API (jobs/serve/app.py) on the home's online store, in the foreground."""
    from jobs.serve.app import serve
    from jobs.serve.backend import store_location

    settings = _settings(args)
    print(f"decision API on http://{args.host}:{args.port} (OpenAPI: /docs), store {store_location(settings)}",
          flush=True)
    serve(settings, args.host, args.port, parse_date(args.as_of) if args.as_of else None, args.triggers)
    return 0


def cmd_triggers(args) -> int:
    """The triggers consumer of the event stream on its own (without the API)."""
    from jobs.serve.backend import open_store
    from jobs.stream.triggers import run, standalone

    logging.getLogger("jobs.stream").setLevel(logging.INFO)
    settings = _settings(args)
    engine = standalone(settings.home, open_store(settings))
    print(f"following {_event_source(settings)} for triggers "
          f"({'until no event is left' if args.until_idle else 'until Ctrl-C'})", flush=True)
    try:
        counts = run(engine, until_idle=args.until_idle, broker=settings.events_broker)
    except KeyboardInterrupt:
        counts = engine.counts
    finally:
        engine.decider.wal.close()
    print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no event")
    return 0


def _event_source(settings) -> str:
    if settings.events_broker:
        from jobs.stream.broker import TOPIC

        return f"the Kafka topic {TOPIC} on {settings.events_broker}"
    return str(settings.home / "stream" / "events")


def cmd_stream(args) -> int:
    """The event stream (<home>/stream/events/, or the broker's topic) into bronze and silver, micro-batch by
    micro-batch."""
    from jobs.pipeline import lakehouse
    from jobs.stream.run import StreamReport, run

    logging.getLogger("jobs.stream").setLevel(logging.INFO)   # a line per micro-batch: progress and lag
    settings = _settings(args)
    print(f"streaming {_event_source(settings)} into the lakehouse "
          f"({'until no event is left' if args.until_idle else 'until Ctrl-C'})", flush=True)
    started = time.perf_counter()
    try:
        if settings.engine == "jvm":   # Structured Streaming, with Spark's checkpoint (Sail has no streaming sinks)
            from jobs.stream.structured import run as structured

            batches = structured(lakehouse(settings), max_files=args.max_files, until_idle=args.until_idle)
            report = StreamReport(seconds=time.perf_counter() - started)
            for batch in batches:
                report.add(batch)
        else:
            report = run(lakehouse(settings), max_files=args.max_files, until_idle=args.until_idle)
    except KeyboardInterrupt:
        print("stopped; the events of an unfinished batch are read again at the next start", file=sys.stderr)
        return 130
    print(f"{report.batches} batch(es), {report.events} event(s) in {report.seconds:.1f}s: {report.bronze} to bronze, "
          f"{report.quarantined} quarantined, {report.malformed} malformed, {report.repeated} already loaded, "
          f"{report.superseded} left to the day's export")
    return 0


def cmd_drain_decisions(args) -> int:
    """Move the decision API's answers from its write-ahead files into audit.decision_log."""
    from jobs.pipeline import lakehouse
    from jobs.serve.decision_wal import drain

    drained = drain(lakehouse(_settings(args)))
    print(f"{sum(drained.values())} API decision(s) appended to audit.decision_log from {len(drained)} file(s)")
    return 0


def cmd_demo(args) -> int:
    from jobs.demo import run_demo

    return run_demo(_settings(args), parse_date(args.date), verbose=args.verbose)


def cmd_status(args) -> int:
    """The last run of each DAG, the quarantine, the champions, the tables' versions (and the services)."""
    from jobs import status
    from jobs.tables import Lakehouse

    settings = _settings(args)
    print(f"home: {settings.home} (profile {settings.profile}, engine {settings.engine})")
    if settings.profile == "production":
        print("\nservices")
        _print_table(status.services(settings, dict(os.environ)))
    print("\nDAG runs (the latest run of each date; `marketofone run <dag> --date D` re-runs one)")
    _print_table(status.dag_runs(settings))
    tables = Lakehouse(None, settings).describe()
    if not tables:
        print(f"\nno lakehouse tables yet at {settings.storage_uri}")
        return 0
    held = status.quarantine(tables)
    print(f"\nquarantine: {sum(t['rows'] for t in held)} rows in {len(held)} tables"
          + (" (`marketofone dq --failed` says why)" if held else ""))
    if held:
        _print_table(held)
    print("\nmodels")
    models = status.champions(settings)
    if models:
        _print_table(models)
    else:
        print("  none registered yet (the models_weekly DAG trains them)")
    print("\ntables")
    _print_table([{k: t[k] for k in ("table", "version", "rows")} for t in tables if not t["table"].startswith(
        "quarantine.")])
    return 0


def cmd_kafka_server(args) -> int:
    """A Kafka broker (KRaft, its own controller) in the foreground: the production profile's event stream."""
    from jobs.kafka_server import KafkaStartError, run_foreground

    folder = Path(args.folder).expanduser().resolve()
    try:
        return run_foreground(folder, args.port, args.controller_port, args.host)
    except KafkaStartError as exc:
        print(exc, file=sys.stderr)
        return 1


def cmd_connect_server(args) -> int:
    """A Spark Connect server with Delta in the foreground, until Ctrl-C or SIGTERM (docker stop)."""
    import signal

    from jobs.connect_server import ConnectServer

    settings = _settings(args)
    if args.engine == "sail":
        return _sail_connect_server(args.host, args.port)
    log_path = settings.home / "logs" / "spark-connect.log"
    print(f"starting a Spark Connect server with Delta on {args.host}:{args.port} (the first start fetches the "
          f"Delta jars from Maven Central); its log: {log_path}", flush=True)
    server = ConnectServer.start(port=args.port, host=args.host, log_path=log_path, package=settings.delta_package,
                                 conf=settings.spark_conf)
    print(f"listening: SPARK_REMOTE=sc://{'localhost' if args.host in ('0.0.0.0', '127.0.0.1') else args.host}:"
          f"{args.port}", flush=True)

    def stop_requested(*_):
        # Raised out of the wait below: stopping from inside the handler would wait on the process the
        # interrupted wait holds the lock of.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_requested)
    try:
        code = server.process.wait()
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (docker stop)
        server.stop()
        return 0
    print(f"the Spark Connect server ended by itself (exit code {code}); its log: {log_path}", file=sys.stderr)
    return 1


def _sail_connect_server(host: str, port: int) -> int:
    """Sail's Spark Connect server (Delta built in, no JVM) in the foreground, until Ctrl-C or SIGTERM."""
    import signal
    import threading

    from pysail.spark import SparkConnectServer

    from jobs.engine import SAIL_SESSION_TIMEOUT_S, SAIL_SESSION_TIMEOUT_VAR

    # A client may sit idle on its session longer than Sail's default 15 minutes (a task waiting for its turn).
    os.environ.setdefault(SAIL_SESSION_TIMEOUT_VAR, str(SAIL_SESSION_TIMEOUT_S))
    server = SparkConnectServer(ip=host, port=port)
    server.start(background=True)
    print(f"listening: SPARK_REMOTE=sc://{host}:{server.listening_address[1]} (Sail)", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
    server.stop()
    return 0


def cmd_airflow(args) -> int:
    """Run the airflow CLI against the project's Airflow home and DAGs (e.g. `standalone` for the UI)."""
    from jobs.airflow_command import run_airflow

    if not args.airflow_args:
        raise ValueError("give an airflow command, e.g. `marketofone airflow standalone` or `... airflow dags list`")
    return run_airflow(_settings(args), args.airflow_args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="marketofone", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="show the jobs' progress logs")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("generate", help="write a synthetic bank's exports: a full export for a date, or daily "
                                         "increments")
    p.add_argument("--date", default=DEFAULT_DATE, help="the export's as-of date (default %(default)s)")
    p.add_argument("--daily", action="store_true",
                   help="only the date's activity (a daily increment), not the history window")
    p.add_argument("--from", dest="from_date", help="daily increments from this date ...")
    p.add_argument("--to", dest="to_date", help="... to this one (inclusive)")
    p.add_argument("--customers", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--events", action="store_true", help="with daily increments: the days' activity also as events, "
                                                         "in time order, under <home>/stream/events/<day>/")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("run", help="run one step (ingest, silver, ...) or a whole DAG for a date")
    p.add_argument("target", help="a step name or a DAG id (personalization_daily)")
    p.add_argument("--date", help="the logical date")
    p.add_argument("--from", dest="from_date", help="run the DAG for every date from this one ...")
    p.add_argument("--to", dest="to_date", help="... to this one (a backfill, in date order)")
    p.add_argument("--silo", help="ingest only this source (deposits, cards, lending, digital, crm)")
    p.add_argument("--target", dest="target_name", help="train only this target's model (e.g. savings, retirement)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("tables", help="list the lakehouse tables with versions and row counts; --describe a table: "
                                      "its declaration, suite, writer and readers")
    p.add_argument("--describe", metavar="TABLE", help="e.g. gold.customer_360")
    p.set_defaults(func=cmd_tables)

    p = sub.add_parser("sql", help='query the lakehouse by table name: "select * from gold.customer_360" '
                                   '(read-only unless --write)')
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="print rows as JSON")
    p.add_argument("--write", action="store_true",
                   help="allow DELETE, UPDATE, INSERT or MERGE on a lakehouse table (a new Delta version); "
                        "without it the query must only read")
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("history", help="the Delta history of a table")
    p.add_argument("table")
    p.add_argument("--limit", type=int)
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("maintain", help="compact every lakehouse table's small files and vacuum the files no "
                                        "recent version reads; one line per table")
    p.add_argument("--vacuum-hours", type=int, default=168,
                   help="keep the files versions of the last N hours read (default %(default)s = 7 days, "
                        "Delta's; less shortens how far back time travel reaches)")
    p.add_argument("--dry-run", action="store_true", help="change nothing: count the files and list what a vacuum "
                                                          "would remove")
    p.set_defaults(func=cmd_maintain)

    p = sub.add_parser("retention", help="apply the retention policy (schemas/governance/retention.json) for a date: "
                                         "rows past it deleted or aggregated, their files vacuumed; one line per table")
    p.add_argument("--date", help="the logical date retention is counted from (default: today)")
    p.add_argument("--dry-run", action="store_true", help="change nothing: count the rows that would go")
    p.add_argument("--policy", help="a retention policy file (default: the packaged one)")
    p.set_defaults(func=cmd_retention)

    p = sub.add_parser("airflow", help="the airflow CLI on the project's Airflow home, e.g. `airflow standalone`")
    p.add_argument("airflow_args", nargs=argparse.REMAINDER, help="arguments for airflow")
    p.set_defaults(func=cmd_airflow)

    p = sub.add_parser("dq", help="data-quality results (audit.dq_results): what failed, when and why")
    p.add_argument("--date", help="the run date (default: the latest with results)")
    p.add_argument("--failed", action="store_true", help="only the expectations that failed")
    p.add_argument("--table", help="only this table, e.g. bronze.cards_transactions (or a prefix: bronze.)")
    p.set_defaults(func=cmd_dq)

    p = sub.add_parser("identity-review", help="pairs of silo customer records the identity model left for a "
                       "reviewer (audit.identity_review); --decisions FILE keeps a reviewer's answers")
    p.add_argument("--date", help="the silver run's date (default: the latest reviewed)")
    p.add_argument("--limit", type=int, default=20, help="show at most this many pairs (default 20)")
    p.add_argument("--decisions", help="a CSV file: pair_id,decision[,reviewer][,note], decision same or different")
    p.set_defaults(func=cmd_identity_review)

    p = sub.add_parser("erase", help="erase a person (GDPR Art. 17): queue a request for the erasure DAG "
                                     "(--customer), carry the queue out now (--now), or show the requests (--status)")
    p.add_argument("--customer", help="a golden customer_id (CU...) or a silo id (silo:id, e.g. deposits:D1234567)")
    p.add_argument("--reason", help="why (kept with the request), e.g. 'customer request 2026-12-01, ticket 4711'")
    p.add_argument("--now", action="store_true", help="run the erasure DAG now for every queued request")
    p.add_argument("--date", help="the erasure DAG run's date with --now (default: today)")
    p.add_argument("--status", nargs="?", const="", metavar="ERASURE_ID",
                   help="the requests, or one request and what it took away, table by table")
    p.set_defaults(func=cmd_erase)

    p = sub.add_parser("rotate-key", help="re-tokenize every table past bronze with a new tokenization key, purge "
                                          "their old versions and retire the old key (run while no DAG runs)")
    p.add_argument("--new-key-file", help="a file holding the new key (required when the key is set from outside; "
                                          "else a random key replaces the home's own)")
    p.add_argument("--forget-unmapped", action="store_true",
                   help="make NULL the tokens whose value bronze no longer holds, instead of stopping")
    p.set_defaults(func=cmd_rotate_key)
    p = sub.add_parser("train", help="train a model on any labelled table (a lakehouse table, .parquet or .csv): "
                                     "a time-boxed cross-validated search, then a refit on every training row")
    p.add_argument("--table", required=True, help="gold.training_set, or a .parquet / .csv file")
    p.add_argument("--label", "--target", dest="label", required=True, help="the 0/1 column to predict")
    p.add_argument("--name", required=True, help="the registered model's name (lowercase, e.g. churn_90d)")
    p.add_argument("--test-table", help="a .parquet / .csv file with the same columns to test on; the model then "
                                        "trains on every row of --table (default: a stratified 20%% of --table "
                                        "is held out as the test)")
    p.add_argument("--time-budget", type=float, default=120.0,
                   help="seconds the settings search may take (default %(default)g); the refit and the logging come "
                        "after it")
    p.add_argument("--max-trials", type=int, default=40,
                   help="candidate settings at most (default %(default)s); fixed by the seed, the budget may cut them")
    p.add_argument("--id-columns", help="comma-separated columns that identify a row (never features; the model "
                                        "remembers them for marketofone score)")
    p.add_argument("--exclude", help="comma-separated columns to leave out of the features")
    p.add_argument("--time-column", help="a date column: test on the rows of its latest value, train on the earlier "
                                         "ones (not a feature); not with --test-table")
    p.add_argument("--margin", type=float, help="AUC a new model must gain to replace the champion")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("score", help="score a table with a model's champion; writes ids, probability, reasons")
    p.add_argument("--model", required=True, help="registered model name (e.g. propensity_savings)")
    p.add_argument("--table", required=True, help="a lakehouse table, or a .parquet / .csv file")
    p.add_argument("--out", required=True, help="output .parquet or .csv")
    p.add_argument("--id-columns", help="comma-separated columns copied next to the scores (default: the ones "
                                        "the model was trained with, else customer_id)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("why", help="why a customer got an offer on a date, and why not the others "
                                   "(from audit.decision_log)")
    p.add_argument("--customer", required=True, help="customer token (CU...)")
    p.add_argument("--date", required=True)
    p.add_argument("--offer", help="an offer id or a product, to ask about that one only")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_why)

    p = sub.add_parser("evaluate-policy", help="estimate a candidate policy file's acceptance and revenue on the "
                                               "logged decisions (IPS, SNIPS, doubly robust, with intervals) "
                                               "against the current policy; the report goes to MLflow")
    p.add_argument("--candidate", required=True, help="a policy file (the format of schemas/decisioning/policy.json)")
    p.add_argument("--from", dest="date_from", help="first decision date (default: all)")
    p.add_argument("--to", dest="date_to", help="last decision date (default: all)")
    p.set_defaults(func=cmd_evaluate_policy)

    p = sub.add_parser("offers", help="a channel's published offers of a date (default: the latest published "
                                      "date), printed or written to --out .parquet/.csv; a date never "
                                      "published is an error")
    p.add_argument("--channel", required=True, choices=list(CHANNELS))
    p.add_argument("--date", default="latest", help="yyyy-mm-dd or latest (the latest published date, even with "
                                                    "0 offers)")
    p.add_argument("--out")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_offers)

    p = sub.add_parser("status", help="where the product stands: the last run of each DAG and its failed tasks, "
                                      "the quarantine, the champions, the tables' versions (and, in the production "
                                      "profile, whether every service answers)")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("kafka-server", help="run a Kafka broker in the foreground (the production profile's event "
                                            "stream; its jars from Maven Central once, then the Ivy cache)")
    p.add_argument("--folder", required=True, help="its settings and its log (formatted at the first start)")
    p.add_argument("--host", default="127.0.0.1", help="the address it listens on and gives its clients")
    p.add_argument("--port", type=int, default=9092)
    p.add_argument("--controller-port", type=int, default=9093)
    p.set_defaults(func=cmd_kafka_server)

    p = sub.add_parser("connect-server", help="run a Spark Connect server with Delta in the foreground (the "
                                              "production profile's engine; MARKETOFONE_SPARK_CONF adds settings)")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=15002)
    p.add_argument("--engine", choices=("jvm", "sail"), default="jvm",
                   help="jvm: Spark 4 + Delta (default); sail: Sail's server, Delta built in, no JVM")
    p.set_defaults(func=cmd_connect_server)

    p = sub.add_parser("serve", help="the decision API: a customer's next best offers in milliseconds, from the "
                                     "online store the offers step materializes (OpenAPI at /docs)")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--as-of", help="decide as on this date (replays, tests); default: today (UTC)")
    p.add_argument("--triggers", action="store_true", help="also follow the event stream for triggers (in the server: "
                                                           "the offers they make count in the next answer at once)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("triggers", help="follow the event stream for the moments of need (schemas/decisioning/"
                                        "triggers.json) and publish the triggered offers, without the API")
    p.add_argument("--until-idle", action="store_true", help="stop when no file is left (default: follow)")
    p.set_defaults(func=cmd_triggers)

    p = sub.add_parser("stream", help="the silos' event stream (<home>/stream/events/) into bronze and silver, in "
                                      "micro-batches; exactly once, restartable")
    p.add_argument("--until-idle", action="store_true", help="stop when no file is left (default: wait for more)")
    p.add_argument("--max-files", type=int, default=20, help="event files per micro-batch (default %(default)s)")
    p.set_defaults(func=cmd_stream)

    p = sub.add_parser("drain-decisions", help="append the decision API's answers (its write-ahead files) to "
                                               "audit.decision_log; the daily DAG does it before deciding")
    p.set_defaults(func=cmd_drain_decisions)

    p = sub.add_parser("demo", help="generate a small bank, run the DAGs through Airflow, summarize")
    p.add_argument("--date", default=DEFAULT_DATE)
    p.add_argument("--customers", type=int)
    p.add_argument("--seed", type=int)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("RUST_LOG", "error")  # Sail logs every session start and stop otherwise
    try:
        return args.func(args)
    except (ValueError, LookupError, FileNotFoundError, RuntimeError) as exc:
        print(f"marketofone: error: {exc}", file=sys.stderr)
        return 2


def run() -> None:
    """The console script: main(), then leave without the interpreter's final teardown (jobs/quick_exit.py)."""
    from jobs.quick_exit import quick_exit

    quick_exit(main())


if __name__ == "__main__":
    run()

