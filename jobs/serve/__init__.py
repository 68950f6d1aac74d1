"""The decision API (`marketofone serve`): one customer's next best offers in milliseconds.

The daily offers step materializes every customer's candidates, as the batch decided them, into an online store
(store.py); the API re-decides one customer from them with what changed since (its own offers of the day count
against the contact limits, a consent withdrawn since is honoured: live.py), ranks them the way the batch does
(arbitrate.py), answers (app.py) and writes every answer to a write-ahead file first (decision_wal.py), which
`marketofone drain-decisions` (and the daily DAG) moves into audit.decision_log.
"""
