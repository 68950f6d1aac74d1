"""The retention policy as data (schemas/governance/retention.json): the shipped file loads and says what a bank
keeps; a bad file is refused at load with a message naming the problem."""

import json

import pytest

from jobs.retention.policy import POLICY_FILE, RetentionPolicyError, load, parse
from jobs.tables import LAYERS, REGISTRY

SHIPPED = json.loads(POLICY_FILE.read_text())
MONTHLY = "silver.digital_session_monthly"


def test_the_shipped_policy_has_a_rule_for_every_table():
    policy = load()
    for name in REGISTRY:
        assert policy.rule(name).days >= 0
    assert set(policy.layers) == set(LAYERS)
    assert policy.rule("bronze.crm_consents").days <= 90 and policy.rule("quarantine.crm_consents").days <= 90
    assert policy.rule("audit.decision_log").days >= 3650          # the regulator's ten years
    assert policy.rule("silver.digital_session").action == "aggregate"
    assert policy.rule("silver.consent_event").action == "keep"   # the ledger decides today's consent
    assert policy.age_column("silver.digital_session") == "session_date"
    assert policy.age_column("gold.customer_360") == "as_of_date"  # the table's logical date
    assert policy.files["landing"] <= 90


def _with(section: str, key: str, rule: dict) -> dict:
    """The shipped policy with one rule of a section (layers, tables, files) set."""
    raw = json.loads(json.dumps(SHIPPED))
    raw[section][key] = rule
    return raw


@pytest.mark.parametrize(("raw", "message"), [
    (_with("tables", "gold.customer_306", {"days": 10}), "unknown table 'gold.customer_306'"),
    (_with("tables", "gold.customer_360", {"days": 10, "action": "archive"}),
     "gold.customer_360: unknown action 'archive'; actions: delete, aggregate, keep"),
    (_with("tables", "gold.customer_360", {"days": -1}), "gold.customer_360: days must be a whole number of days, 0 or "
                                                    "more (got -1)"),
    (_with("layers", "bronze", {"days": "90", "action": "delete"}), "layer bronze: days must be a whole number"),
    (_with("tables", "gold.customer_360", {"days": 10, "action": "aggregate"}),
     "gold.customer_360: `aggregate` needs `into`, a table of jobs/tables.py (got None)"),
    (_with("tables", "gold.customer_360", {"days": 10, "action": "aggregate", "into": MONTHLY}),
     "gold.customer_360: no aggregation of it into silver.digital_session_monthly is defined"),
    (_with("layers", "gold", {"days": 10, "action": "aggregate"}), "layer gold: `aggregate` is for a table"),
    (_with("files", "archive", {"days": 10}), "unknown folder 'archive'; folders: landing, exports"),
    (_with("files", "landing", {"days": -5}), "files.landing: days must be a whole number of days, 0 or more (got -5)"),
])
def test_a_bad_policy_is_refused_naming_the_problem(raw, message):
    with pytest.raises(RetentionPolicyError) as caught:
        parse(raw)
    assert message in str(caught.value)


def test_a_policy_without_a_layer_or_unreadable_is_refused(tmp_path):
    raw = json.loads(json.dumps(SHIPPED))
    del raw["layers"]["quarantine"]
    with pytest.raises(RetentionPolicyError, match="no rule for layer\\(s\\) quarantine"):
        parse(raw)
    broken = tmp_path / "retention.json"
    broken.write_text("{ not json")
    with pytest.raises(RetentionPolicyError, match=f"{broken}: cannot read the retention policy"):
        load(broken)
