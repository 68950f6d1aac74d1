from jobs.contracts import ColumnContract, Contract, typed
from jobs.ingest.contract_checks import check_rows, split_checked

CONTRACT = Contract(
    silo="deposits", entity="toy", key=("txn_id",),
    columns=(
        ColumnContract("txn_id", required=True, pattern="^T[0-9]+$"),
        ColumnContract("booking_date", type="date", format="MM/dd/yyyy", required=True),
        ColumnContract("amount", type="decimal", required=True, min=0),
        ColumnContract("currency", allowed=("USD",)),
    ),
)
ROWS = [
    ("T1", "01/31/2026", "10.50", "USD", 0),
    ("T2", "13/45/2026", "5.00", "USD", 1),    # bad date
    ("T3", "02/01/2026", "-3.00", "XXX", 2),   # negative amount and unknown currency
    ("", "02/01/2026", "1.00", "USD", 3),       # missing id
    ("T1", "02/02/2026", "7.00", "USD", 4),    # duplicate id (the first T1 is kept)
    ("T6", "02/03/2026", "n/a", None, 5),      # amount not a number
]


def _frame(spark):
    return spark.createDataFrame(
        ROWS, "txn_id string, booking_date string, amount string, currency string, _row_id long"
    )


def test_each_broken_rule_quarantines_the_row_with_a_reason(spark):
    checked = {r._row_id: r for r in check_rows(_frame(spark), CONTRACT).collect()}
    assert checked[0]._rule is None and checked[0]._reason is None
    assert checked[1]._rule == "type:booking_date"
    assert "booking_date '13/45/2026' is not a valid date (MM/dd/yyyy)" in checked[1]._reason
    assert checked[2]._rule == "min:amount; allowed:currency"  # in contract column order
    assert "amount '-3.00' is below the minimum 0" in checked[2]._reason
    assert "currency 'XXX' is not one of USD" in checked[2]._reason
    assert checked[3]._rule.startswith("required:txn_id")
    assert checked[4]._rule == "unique:txn_id" and "duplicate txn_id T1" in checked[4]._reason
    assert checked[5]._rule == "type:amount"


def test_rows_in_equal_valid_plus_quarantined(spark):
    valid, quarantined = split_checked(check_rows(_frame(spark), CONTRACT))
    assert valid.count() == 1 and quarantined.count() == 5
    assert "_reason" not in valid.columns and "_reason" in quarantined.columns


def test_typed_parses_the_silo_formats(spark):
    row = typed(_frame(spark), CONTRACT).where("_row_id = 0").collect()[0]
    assert str(row.booking_date) == "2026-01-31" and row.amount == 10.5 and row._row_id == 0
