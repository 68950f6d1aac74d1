"""The synthetic bank generator on generated banks: files, contracts, identity overlap, openings, defects,
determinism, one consistent world across exports, daily increments, life events, consent and offers.
(What needs no bank, the contracts, the population and the refused settings: tests/unit/generate.)

Pure pandas (no Spark): the generator must be checkable on its own. A small bank (300 people, 60 days)
is generated once per module; the signal tests use the default 2,000 people.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jobs.generate import FILES, generate_bank, generate_days, landing_path
from jobs.settings import Settings
from tests.generate_fixtures import AS_OF, PY_DATE, contract

OWNER = {"deposits": ("deposits/customers", "cif_id", "deposits/accounts", "account_id", "cif_id"),
         "cards": ("cards/cardholders", "holder_ref", "cards/accounts", "card_account_id", "holder_ref"),
         "lending": ("lending/borrowers", "borrower_no", "lending/loans", "loan_no", "borrower_no")}
OPEN_DATE = {"deposits": ("open_date", "%Y-%m-%d"), "cards": ("open_date", "%m/%d/%Y"),
             "lending": ("start_date", "%d.%m.%Y")}


def read(settings: Settings, file: str, day: dt.date = AS_OF) -> pd.DataFrame:
    return pd.read_csv(landing_path(settings, file, day), dtype=str, keep_default_na=False)


def broken_rows(df: pd.DataFrame, spec: dict) -> pd.Series:
    """Per row: does it break any rule of the contract (the rules the ingest layer enforces)?"""
    bad = pd.Series(False, index=df.index)
    for col in spec["columns"]:
        value = df[col["name"]].str.strip()
        present = value != ""
        if col.get("required"):
            bad |= ~present
        if col["type"] in ("date", "timestamp"):
            parsed = pd.to_datetime(value, format=PY_DATE[col["format"]], errors="coerce")
            bad |= present & parsed.isna()
        numeric = None
        if col["type"] in ("integer", "decimal"):
            numeric = pd.to_numeric(value, errors="coerce")
            bad |= present & numeric.isna()
            if col["type"] == "integer":
                bad |= present & ~value.str.fullmatch(r"-?[0-9]+")
        if col.get("pattern"):
            bad |= present & ~value.str.match(col["pattern"])
        if col.get("allowed") is not None:
            bad |= present & ~value.isin(col["allowed"])
        if numeric is not None and col.get("min") is not None:
            bad |= numeric < col["min"]
        if numeric is not None and col.get("max") is not None:
            bad |= numeric > col["max"]
    bad |= df.duplicated(subset=spec["key"], keep="first")
    return bad


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("bank"), customers=300, history_days=60)
    summary = generate_bank(settings, AS_OF)
    return settings, summary


@pytest.fixture(scope="module")
def truth(bank):
    settings, _ = bank
    gt = settings.ground_truth
    names = ("persons", "silo_ids", "openings", "life_events", "probabilities", "offers")
    return {**{name: pd.read_parquet(gt / f"{name}.parquet") for name in names},
            "defects": pd.read_parquet(gt / "defects" / f"{AS_OF}.parquet")}


def test_same_inputs_give_identical_bytes(bank, tmp_path):
    settings, summary = bank
    again = settings.with_(home=tmp_path / "again")
    assert generate_bank(again, AS_OF) == summary
    first = sorted(p.relative_to(settings.home) for p in settings.home.rglob("*") if p.is_file())
    second = sorted(p.relative_to(again.home) for p in again.home.rglob("*") if p.is_file())
    assert first == second
    for rel in first:
        assert (settings.home / rel).read_bytes() == (again.home / rel).read_bytes(), rel


def test_another_seed_or_date_gives_another_bank(bank, tmp_path):
    settings, _ = bank
    other = settings.with_(home=tmp_path / "other", seed=7)
    generate_bank(other, AS_OF)
    file = "deposits/transactions"
    assert landing_path(settings, file, AS_OF).read_bytes() != landing_path(other, file, AS_OF).read_bytes()


def test_identity_is_stable_across_export_dates(bank, tmp_path):
    """The next day's export shows the same people under the same ids (only window activity moves)."""
    settings, _ = bank
    nxt = settings.with_(home=tmp_path / "next")
    generate_bank(nxt, AS_OF + dt.timedelta(days=1))
    today = read(settings, "cards/cardholders").set_index("holder_ref")
    tomorrow = pd.read_csv(landing_path(nxt, "cards/cardholders", AS_OF + dt.timedelta(days=1)), dtype=str,
                           keep_default_na=False).set_index("holder_ref")
    both = today.index.intersection(tomorrow.index).drop("", errors="ignore")
    assert len(both) > 0.9 * len(today)
    same = (today.loc[both, "ssn"] == tomorrow.loc[both, "ssn"]).mean()
    assert same > 0.98  # all but the rows a defect hit on one of the two days


def test_every_file_exists_with_the_contract_columns_in_order(bank):
    settings, summary = bank
    assert summary["persons"] == 300
    assert set(summary["files"]) == set(FILES)
    for file in FILES:
        path = landing_path(settings, file, AS_OF)
        assert path.is_file(), path
        header = path.read_text(encoding="utf-8").split("\n", 1)[0]
        assert header.split(",") == [c["name"] for c in contract(file)["columns"]], file
        # The channels report responses only to offers the bank published: none before its first decisions.
        expected_rows = 0 if file == "channels/responses" else 1
        assert len(read(settings, file)) == summary["files"][file] >= expected_rows, file
    assert not list(settings.landing.rglob(".*.tmp")), "temporary files left behind"


def test_only_the_logged_defect_rows_break_their_contract(bank, truth):
    """Every row that breaks a contract rule is a logged defect, and every logged defect breaks one
    (but an orphan reference, which is well-formed: silver catches it)."""
    settings, _ = bank
    defects = truth["defects"][truth["defects"]["kind"] != "orphan_ref"]
    for file in FILES:
        df = read(settings, file)
        broken = set(np.flatnonzero(broken_rows(df, contract(file)).to_numpy()))
        logged = set(defects.loc[defects["file"] == file, "row"])
        assert broken == logged, (file, sorted(broken - logged)[:5], sorted(logged - broken)[:5])


def test_ids_follow_their_patterns_on_nearly_all_rows(bank):
    settings, _ = bank
    for file in FILES:
        df = read(settings, file)
        if df.empty:
            continue
        for col in contract(file)["columns"]:
            if col.get("pattern") and col["name"].endswith(("_id", "_ref", "_no")):
                share = df[col["name"]].str.match(col["pattern"]).mean()
                assert share > 0.97, (file, col["name"], share)


def test_defects_exist_but_are_few(bank, truth):
    settings, summary = bank
    defects = truth["defects"]
    assert set(defects["kind"]) == {"bad_date", "negative_amount", "unknown_currency", "empty_id", "duplicate_key",
                                    "orphan_ref"}
    total = sum(summary["files"].values())
    assert 0 < len(defects) < 0.02 * total
    for file, rows in summary["files"].items():
        assert (defects["file"] == file).sum() <= max(5, 0.02 * rows), file  # >= 1 per kind in a small file
    txns = read(settings, "deposits/transactions")
    assert (txns["amount"].str.startswith("-")).sum() == ((defects["file"] == "deposits/transactions")
                                                          & (defects["kind"] == "negative_amount")).sum()
    assert read(settings, "deposits/accounts")["currency"].eq("XXX").any()


def test_people_appear_in_several_silos_with_the_same_identity(bank, truth):
    settings, _ = bank
    ids = truth["silo_ids"]
    silos_per_person = ids.groupby("person_id")["silo"].nunique()
    assert (silos_per_person >= 2).mean() > 0.2
    assert (silos_per_person == 1).any()
    assert set(ids["person_id"]) == set(truth["persons"]["person_id"])  # everyone is a customer somewhere
    # Every master row is mapped (rows whose id a defect emptied cannot be).
    for silo, (file, id_col, *_rest) in OWNER.items():
        master = read(settings, file)
        known = set(ids.loc[ids["silo"] == silo, "silo_customer_id"])
        assert master[id_col].loc[master[id_col] != ""].isin(known).all(), silo
    # The same person mostly carries the same 9 digits and birth date in deposits and cards; the card
    # processor lacks the national id for some (a placeholder) or has two digits transposed.
    dep = read(settings, "deposits/customers").merge(ids[ids.silo == "deposits"], left_on="cif_id",
                                                     right_on="silo_customer_id")
    card = read(settings, "cards/cardholders").merge(ids[ids.silo == "cards"], left_on="holder_ref",
                                                     right_on="silo_customer_id")
    both = dep.merge(card, on="person_id", suffixes=("_d", "_c"))
    assert len(both) > 30
    assert 0.85 < (both["national_id"].str.replace("-", "") == both["ssn"]).mean() < 1
    birth_d = pd.to_datetime(both["birth_date_d"], format="%Y-%m-%d", errors="coerce")
    birth_c = pd.to_datetime(both["birth_date_c"], format="%m/%d/%Y", errors="coerce")
    assert (birth_d == birth_c).mean() > 0.97
    # Duplicate CIFs: one person, two deposit customer records.
    assert (ids[ids.silo == "deposits"].groupby("person_id").size() == 2).any()


PLACEHOLDER_IDS = ["000000000", "999999999", "123456789", "111111111"]


def test_identity_is_realistically_imperfect(bank, truth):
    """Identifiers disagree across silos for some people and agree across different people for others,
    so that matching on any one of them alone merges or splits people."""
    settings, _ = bank
    ids = truth["silo_ids"]
    frames = []
    for silo, file, id_col, nid in [("deposits", "deposits/customers", "cif_id", "national_id"),
                                    ("cards", "cards/cardholders", "holder_ref", "ssn"),
                                    ("lending", "lending/borrowers", "borrower_no", "tax_id")]:
        df = read(settings, file).merge(ids[ids.silo == silo], left_on=id_col, right_on="silo_customer_id")
        frames.append(pd.DataFrame({"silo": silo, "person_id": df["person_id"],
                                    "nid": df[nid].str.replace("-", ""), "email": df["email"].str.lower(),
                                    "phone": df["phone"].str.replace(r"\D", "", regex=True).str[-10:]}))
    recs = pd.concat(frames)
    placeholder = recs["nid"].isin(PLACEHOLDER_IDS)
    assert placeholder[recs.silo != "deposits"].any() and not placeholder[recs.silo == "deposits"].any()
    # one person, several values: a placeholder or mistyped id, a work/old/family email, a landline
    for col in ("nid", "email", "phone"):
        known = recs[recs[col] != ""]
        assert (known.groupby("person_id")[col].nunique() > 1).any(), col
    # several people, one value: household emails and landlines, recycled numbers; never a real id
    for col in ("email", "phone"):
        known = recs[recs[col] != ""]
        assert (known.groupby(col)["person_id"].nunique() > 1).any(), col
    assert (recs[~placeholder].groupby("nid")["person_id"].nunique() == 1).all()


def test_openings_in_the_window_are_new_accounts_in_the_right_silo(bank, truth):
    settings, _ = bank
    openings, ids, defects = truth["openings"], truth["silo_ids"], truth["defects"]
    window_start = pd.Timestamp(AS_OF - dt.timedelta(days=settings.history_days - 1))
    recent = openings[pd.to_datetime(openings["open_date"]) >= window_start]
    assert {"savings", "credit_card", "personal_loan", "term_deposit"} <= set(recent["product"])
    assert set(openings["cause"]) <= {"organic", "offer", "life_event"}
    assert (pd.to_datetime(openings["open_date"]) <= pd.Timestamp(AS_OF)).all()
    loan_type = {"personal_loan": "personal", "auto_loan": "auto", "mortgage": "mortgage"}
    checked = 0
    for _, row in recent.iterrows():
        silo = row["silo"]
        _, _, account_file, account_col, owner_col = OWNER[silo]
        accounts = read(settings, account_file)
        hit_rows = set(defects.loc[defects["file"] == account_file, "row"])
        match = accounts.index[accounts[account_col] == row["account_id"]]
        if len(match) == 0 or match[0] in hit_rows:
            continue  # a defect emptied or broke this row: ingest quarantines it
        account = accounts.loc[match[0]]
        date_col, fmt = OPEN_DATE[silo]
        assert pd.to_datetime(account[date_col], format=fmt) == pd.Timestamp(row["open_date"]), row.to_dict()
        owner = ids[(ids.silo == silo) & (ids.silo_customer_id == account[owner_col])]["person_id"]
        assert row["person_id"] in set(owner), row.to_dict()
        if silo == "deposits":
            assert account["product"] == row["product"]
        if silo == "lending":
            assert account["loan_type"] == loan_type[row["product"]]
        checked += 1
    assert checked >= 0.95 * len(recent) > 0


def test_ground_truth_files(bank, truth):
    persons = truth["persons"]
    assert len(persons) == 300
    for col in ("person_id", "age", "gender", "income", "wallet_share", "digital", "preferred_channel", "holdout"):
        assert col in persons.columns
    assert persons["age"].between(17, 87).all()
    assert persons["wallet_share"].between(0, 1).all()
    assert 0.03 < persons["holdout"].mean() < 0.2
    probabilities = truth["probabilities"]
    for col in ("p_savings", "p_credit_card", "p_mortgage", "h_home_purchase", "h_retirement"):
        assert probabilities[col].between(0, 1).all(), col
    # one row per person and month from the world's first month to the month after the export
    assert len(probabilities) == 300 * probabilities["month"].nunique()
    assert pd.Timestamp(probabilities["month"].max()) == pd.Timestamp("2026-07-01")
    assert set(truth["silo_ids"]["silo"]) == {"deposits", "cards", "lending"}
    assert list(truth["openings"].columns[:3]) == ["person_id", "product", "open_date"]
    assert (pd.to_datetime(truth["life_events"]["event_date"]) <= pd.Timestamp(AS_OF)).all()


def test_balances_and_dates_are_plausible(bank, truth):
    settings, _ = bank
    defects = truth["defects"]
    accounts = read(settings, "deposits/accounts")
    clean = ~accounts.index.isin(defects.loc[defects.file == "deposits/accounts", "row"])
    assert (pd.to_numeric(accounts.loc[clean, "balance"]) >= 0).all()
    txns = read(settings, "deposits/transactions")
    clean = ~txns.index.isin(defects.loc[defects.file == "deposits/transactions", "row"])
    booked = pd.to_datetime(txns.loc[clean, "booking_date"], format="%Y-%m-%d")
    assert booked.min() >= pd.Timestamp(AS_OF - dt.timedelta(days=settings.history_days - 1))
    assert booked.max() <= pd.Timestamp(AS_OF)
    assert set(txns["txn_type"]) == {"PAYROLL", "TRANSFER_IN", "TRANSFER_OUT_EXTERNAL", "TRANSFER_OUT_INTERNAL",
                                     "RENT", "MORTGAGE_PAYMENT", "ATM", "BILL_PAYMENT", "CARD_SETTLEMENT"}
    credit = txns["txn_type"].isin(["PAYROLL", "TRANSFER_IN"])
    assert (txns.loc[credit, "direction"] == "CR").all() and (txns.loc[~credit, "direction"] == "DR").all()


@pytest.fixture(scope="module")
def default_bank(tmp_path_factory):
    """The default scale (2,000 people, 120 days) for the tests of signal and base rates."""
    settings = Settings(home=tmp_path_factory.mktemp("default_bank"), customers=2000)
    generate_bank(settings, AS_OF)
    gt = settings.ground_truth
    return settings, {name: pd.read_parquet(gt / f"{name}.parquet")
                      for name in ("silo_ids", "persons", "openings", "probabilities", "life_events", "offers")}


def test_openings_follow_observable_behaviour(default_bank):
    """Behaviour before the label horizon separates openers from the rest in the direction the
    propensities say (the signal a model must be able to learn), and the true probabilities rank
    openers above the rest without being an oracle that cannot miss."""
    settings, truth = default_bank
    ids, persons, openings = truth["silo_ids"], truth["persons"].set_index("person_id"), truth["openings"]
    cutoff = pd.Timestamp(AS_OF - dt.timedelta(days=settings.label_horizon_days))
    recent = openings[pd.to_datetime(openings["open_date"]) > cutoff]
    assert recent.groupby("product").size()[["savings", "credit_card", "personal_loan"]].min() >= 8

    accounts = read(settings, "deposits/accounts")
    txns = read(settings, "deposits/transactions")
    txns["date"] = pd.to_datetime(txns["booking_date"], format="%Y-%m-%d", errors="coerce")
    txns["amount"] = pd.to_numeric(txns["amount"], errors="coerce").abs()
    txns = txns[txns["date"] <= cutoff].merge(accounts[["account_id", "cif_id"]], on="account_id")
    txns = txns.merge(ids[ids.silo == "deposits"], left_on="cif_id", right_on="silo_customer_id")
    flows = txns.pivot_table(index="person_id", columns="direction", values="amount", aggfunc="sum").fillna(0)
    out_over_in = (flows["DR"] / flows["CR"].clip(lower=1)).rename("out_over_in")
    june = truth["probabilities"][pd.to_datetime(truth["probabilities"]["month"]) == "2026-06-01"]
    june = june.set_index("person_id")

    def openers_vs_rest(product: str, values: pd.Series) -> tuple[float, float]:
        eligible = june.index[june[f"p_{product}"] > 0]
        opened = set(recent.loc[recent["product"] == product, "person_id"])
        v = values.reindex(eligible).dropna()
        return v[v.index.isin(opened)].median(), v[~v.index.isin(opened)].median()

    yes, no = openers_vs_rest("personal_loan", out_over_in)
    assert yes > no  # strain: more going out than coming in
    yes, no = openers_vs_rest("savings", out_over_in)
    assert yes < no  # thrift: money stays
    yes, no = openers_vs_rest("credit_card", persons["age"])
    assert yes < no  # younger
    for product in ("credit_card", "savings", "personal_loan", "term_deposit"):
        eligible = june[june[f"p_{product}"] > 0]
        label = eligible.index.isin(recent.loc[recent["product"] == product, "person_id"])
        auc = _auc(eligible[f"p_{product}"].to_numpy(), label)
        assert 0.65 < auc < 0.97, (product, auc)
        assert eligible[f"p_{product}"].mean() < 0.05, product  # a few percent a month or less


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    ranks = pd.Series(score).rank().to_numpy()
    pos = label.sum()
    return (ranks[label].sum() - pos * (pos + 1) / 2) / (pos * (len(label) - pos))


def test_tiny_bank_still_writes_every_file(tmp_path):
    settings = Settings(home=tmp_path, customers=5, history_days=31)
    summary = generate_bank(settings, AS_OF)
    for file in FILES:
        assert Path(landing_path(settings, file, AS_OF)).is_file()
    assert summary["persons"] == 5


@pytest.fixture(scope="module")
def daily(bank, tmp_path_factory):
    """Daily increments for the last two days of the module's bank, written into another home."""
    settings, _ = bank
    other = settings.with_(home=tmp_path_factory.mktemp("daily"))
    summaries = generate_days(other, AS_OF - dt.timedelta(days=1), AS_OF)
    return other, summaries


def _clean(settings: Settings, file: str, day: dt.date) -> pd.DataFrame:
    """A file's rows that no defect touched."""
    df = read(settings, file, day)
    defects = pd.read_parquet(settings.ground_truth / "defects" / f"{day}.parquet")
    return df.drop(index=defects.loc[defects["file"] == file, "row"], errors="ignore")


def test_a_daily_export_and_a_full_export_of_the_same_day_agree(bank, daily):
    """One world: the snapshots (customers, accounts, balances) are the same files, and the day's
    transactions carry the same ids and values in the full export's history as in the increment."""
    settings, _ = bank
    other, _ = daily
    for file in ("deposits/customers", "deposits/accounts", "cards/accounts", "lending/loans", "lending/borrowers"):
        assert landing_path(settings, file, AS_OF).read_bytes() == landing_path(other, file, AS_OF).read_bytes(), file
    day_before = AS_OF - dt.timedelta(days=1)
    for file, key, date_col, fmt in (("deposits/transactions", "txn_id", "booking_date", "%Y-%m-%d"),
                                     ("cards/transactions", "txn_ref", "txn_date", "%m/%d/%Y")):
        full = _clean(settings, file, AS_OF)
        full = full[pd.to_datetime(full[date_col], format=fmt) == pd.Timestamp(day_before)].set_index(key)
        increment = _clean(other, file, day_before).set_index(key)
        common = full.index.intersection(increment.index)
        assert len(common) > 0.97 * max(len(full), len(increment)) > 0, file
        assert full.loc[common].equals(increment.loc[common]), file


def test_a_daily_export_holds_only_its_day(daily):
    other, summaries = daily
    assert [s["as_of"] for s in summaries] == [AS_OF - dt.timedelta(days=1), AS_OF]
    for file, col, fmt in (("deposits/transactions", "booking_date", "%Y-%m-%d"),
                           ("cards/transactions", "txn_date", "%m/%d/%Y"),
                           ("digital/sessions", "started_at", "%Y-%m-%d %H:%M:%S"),
                           ("crm/consents", "recorded_at", "%Y-%m-%d %H:%M:%S")):
        df = _clean(other, file, AS_OF)
        assert (pd.to_datetime(df[col], format=fmt).dt.date == AS_OF).all(), file
    assert summaries[1]["files"]["deposits/transactions"] < summaries[1]["files"]["deposits/accounts"] * 3


def test_consent_is_a_ledger_of_grants_and_withdrawals(bank, truth):
    """The full export holds the ledger from onboarding on; per customer, purpose and channel the
    decisions alternate (a withdrawal follows a grant), and some customers changed their mind."""
    settings, _ = bank
    ledger = _clean(settings, "crm/consents", AS_OF)
    assert (ledger["source"] == "onboarding").any() and (ledger["source"] != "onboarding").any()
    assert pd.to_datetime(ledger.loc[ledger.source == "onboarding", "recorded_at"]).max() < pd.Timestamp("2025-07-01")
    assert set(ledger.loc[ledger.purpose != "marketing", "channel"]) == {"all"}
    ledger = ledger.sort_values("recorded_at")
    for _, events in ledger.groupby(["customer_ref", "purpose", "channel"]):
        status = events["status"].tolist()
        assert status[0] == "granted" or events["source"].iloc[0] != "onboarding"
        assert all(a != b for a, b in zip(status, status[1:], strict=False)), status
    assert (ledger["status"] == "withdrawn").sum() > 5


def _consent_at(ledger: pd.DataFrame, events: pd.DataFrame) -> pd.Series:
    """Marketing consent on each event's channel at its time (the last ledger entry before it)."""
    ledger = ledger[ledger.purpose == "marketing"].assign(at=lambda d: pd.to_datetime(d["recorded_at"]))
    events = events.assign(at=pd.to_datetime(events["event_at"])).sort_values("at")
    merged = pd.merge_asof(events, ledger.sort_values("at")[["at", "customer_ref", "channel", "status"]],
                           on="at", by=["customer_ref", "channel"], direction="backward")
    return merged.set_index(events.index)["status"]


def test_offers_respect_consent_and_the_holdout(bank, truth):
    settings, _ = bank
    offers = _clean(settings, "crm/offers", AS_OF)
    kinds = set(offers["event_type"])
    assert {"holdout", "sent", "opened", "accepted"} <= kinds
    by_offer = offers.groupby("offer_id")["event_type"].apply(set)
    held_out = by_offer[by_offer.apply(lambda e: "holdout" in e)]
    assert len(held_out) > 0 and held_out.apply(lambda e: e == {"holdout"}).all()
    sent = offers[offers.event_type == "sent"]
    ledger = _clean(settings, "crm/consents", AS_OF)
    assert (_consent_at(ledger, sent) == "granted").mean() > 0.98  # the rest: ledger rows a defect broke
    persons = truth["persons"].set_index("person_id")
    gt = truth["offers"]
    assert not persons.loc[gt.loc[~gt.holdout, "person_id"], "holdout"].any()
    assert (gt.loc[gt.holdout, "response"] == "none").all()


def test_accepted_offers_open_the_product_within_days(bank, truth):
    gt, openings = truth["offers"], truth["openings"]
    accepted = gt[gt.response == "accepted"].merge(openings, on=["person_id", "product"], how="left")
    assert len(accepted) > 0
    opened = accepted.dropna(subset=["open_date"])
    lag = (pd.to_datetime(opened["open_date"]) - pd.to_datetime(opened["sent_date"])).dt.days
    assert lag.between(0, 16).mean() > 0.95
    assert (openings["cause"] == "offer").any() and (openings["cause"] == "organic").any()


def test_life_events_leave_signals_before_they_happen(default_bank):
    """People research on the matching pages in the weeks before a home purchase or retirement, and
    buy baby goods before a child is born: the leading signals a life-event model learns from."""
    settings, truth = default_bank
    ids, events = truth["silo_ids"], truth["life_events"]
    sessions = read(settings, "digital/sessions").merge(ids, left_on=["customer_ref", "customer_silo"],
                                                         right_on=["silo_customer_id", "silo"])
    sessions["at"] = pd.to_datetime(sessions["started_at"], errors="coerce")
    window_start = pd.Timestamp(AS_OF - dt.timedelta(days=settings.history_days - 1))
    for event, pages, before in (("home_purchase", {"mortgage_calculator", "home_buying_guide"}, 84),
                                 ("retirement", {"retirement_planner"}, 90)):
        happened = events[(events.event == event)
                          & (pd.to_datetime(events.event_date) >= window_start + pd.Timedelta(days=before))]
        assert len(happened) >= 5, event
        merged = sessions.merge(happened, on="person_id")
        lead = (merged["at"] < pd.to_datetime(merged["event_date"])) & \
               (merged["at"] >= pd.to_datetime(merged["event_date"]) - pd.Timedelta(days=before))
        share_before = merged.loc[lead, "page"].isin(pages).mean()
        share_everyone = sessions["page"].isin(pages).mean()
        # a signal, not a giveaway: only some customers research, and everyone browses a little
        assert 2 * share_everyone < share_before < 0.8, (event, share_before, share_everyone)
    cards = read(settings, "cards/transactions")
    assert (cards["merchant_category"] == "kids").any() and (cards["merchant_category"] == "jewelry").any()


def test_balances_stay_positive_through_strain(default_bank):
    settings, truth = default_bank
    accounts = read(settings, "deposits/accounts")
    balance = pd.to_numeric(accounts["balance"], errors="coerce").dropna()
    assert (balance >= 0).all()
    txns = read(settings, "deposits/transactions")
    assert txns["txn_type"].isin(["PAYROLL"]).any()
    # pay from a new employer after a job change, a pension after retirement
    assert (txns["counterparty"] == "SSA TREAS 310").any()


def test_customers_declare_some_life_events_after_they_happen(default_bank):
    settings, truth = default_bank
    declared = read(settings, "crm/life_events")
    defects = pd.read_parquet(settings.ground_truth / "defects" / f"{AS_OF}.parquet")
    declared = declared.drop(index=defects.loc[defects["file"] == "crm/life_events", "row"], errors="ignore")
    ids = truth["silo_ids"]
    declared = declared.merge(ids, left_on=["customer_ref", "customer_silo"], right_on=["silo_customer_id", "silo"])
    happened = pd.to_datetime(declared["event_date"])
    recorded = pd.to_datetime(declared["recorded_at"])
    lag = (recorded.dt.normalize() - happened).dt.days
    assert len(declared) > 20 and lag.between(0, 45).all()
    events = truth["life_events"]
    known = events.dropna(subset=["declared_on"])
    assert 0.4 < len(known) / len(events) < 0.95  # most events are declared, not all
    real = set(zip(events["person_id"], events["event"], pd.to_datetime(events["event_date"]), strict=True))
    assert all(key in real for key in zip(declared["person_id"], declared["event_type"], happened, strict=True))


def test_balances_are_exported_for_every_month_end_of_a_full_export(bank):
    settings, _ = bank
    balances = read(settings, "deposits/balances")
    days = set(pd.to_datetime(balances["balance_date"], format="%Y-%m-%d", errors="coerce").dropna())
    assert pd.Timestamp(AS_OF) in days and pd.Timestamp("2026-05-31") in days
    accounts = read(settings, "deposits/accounts")
    today = balances[balances["balance_date"] == AS_OF.isoformat()]
    merged = today.merge(accounts, on="account_id", suffixes=("", "_snapshot"))
    assert len(merged) > 0.95 * len(accounts)
    assert (merged["balance"] == merged["balance_snapshot"]).mean() > 0.98  # the same day's balance, twice
