"""The trigger rules as data (schemas/decisioning/triggers.json): parsed with clear errors, matched on one event."""

import datetime as dt

import pytest

from jobs.stream.rules import load, parse, trigger_products

DAY = dt.date(2026, 7, 1)


def _trigger(**changes) -> dict:
    return {"trigger_id": "T1", "source": "deposits/transactions", "action": "offer", "product": "savings",
            "channel": "mobile", "valid_from": "2026-01-01", "valid_to": "2026-12-31",
            "event": [{"field": "txn_type", "eq": "PAYROLL"}, {"field": "amount", "gt": 1.5,
                                                                "times_feature": "income_monthly"}],
            "customer": [{"feature": "income_monthly", "gt": 0}], **changes}


def test_the_shipped_triggers_parse_and_name_the_features_the_store_keeps():
    triggers = load()
    assert {t.trigger_id for t in triggers.triggers} >= {"TRG-SALARY-UP", "TRG-MORTGAGE-INTENT", "TRG-MONEY-LEAVING",
                                                          "TRG-TRAVEL-SPEND", "TRG-PAYMENT-STRESS"}
    assert triggers.features == ["income_monthly", "max_days_past_due", "rent_30d", "rent_90d"]
    assert trigger_products()["TRG-MORTGAGE-INTENT"] == "mortgage"
    assert "TRG-PAYMENT-STRESS" not in trigger_products()   # a help trigger raises no product


def test_a_salary_well_above_the_usual_fires_and_one_near_it_does_not():
    trigger = parse({"triggers": [_trigger()]}).triggers[0]
    features = {"income_monthly": 3000.0}
    assert trigger.matches("deposits/transactions", {"txn_type": "PAYROLL", "amount": "4600.00"}, features, DAY)
    assert not trigger.matches("deposits/transactions", {"txn_type": "PAYROLL", "amount": "4400.00"}, features, DAY)
    assert not trigger.matches("deposits/transactions", {"txn_type": "RENT", "amount": "9000"}, features, DAY)
    assert not trigger.matches("cards/transactions", {"txn_type": "PAYROLL", "amount": "9000"}, features, DAY)
    # Numbers compare as numbers ("10000" > "4600" as text is False), a value that is no number never matches, nor
    # does a customer the features say nothing about.
    assert trigger.matches("deposits/transactions", {"txn_type": "PAYROLL", "amount": "10000"}, features, DAY)
    assert not trigger.matches("deposits/transactions", {"txn_type": "PAYROLL", "amount": "n/a"}, features, DAY)
    assert not trigger.matches("deposits/transactions", {"txn_type": "PAYROLL", "amount": "9000"}, {}, DAY)
    assert not trigger.matches("deposits/transactions", {"txn_type": "PAYROLL", "amount": "9000"}, features,
                               dt.date(2027, 1, 1))   # after the trigger's validity


@pytest.mark.parametrize(("change", "message"), [
    ({"source": "crm/offers"}, "source must be one of"),
    ({"action": "call"}, "action must be one of offer, help"),
    ({"product": "yacht"}, "names a product of"),
    ({"channel": "fax"}, "channel must be one of"),
    ({"action": "help", "product": None}, "a help trigger needs its content"),
    ({"event": [{"field": "amount", "between": [1, 2]}]}, "a condition is"),
    ({"event": [{"field": "page", "in": "mortgage_calculator"}]}, "'in' takes a list"),
])
def test_a_bad_trigger_is_refused_naming_it_and_what_is_wrong(change, message):
    with pytest.raises(ValueError, match="trigger 'T1'") as error:
        parse({"triggers": [_trigger(**change)]})
    assert message in str(error.value)


def test_two_triggers_with_one_id_are_refused():
    with pytest.raises(ValueError, match="a trigger_id of its own"):
        parse({"triggers": [_trigger(), _trigger()]})
