"""Retention: how long the lakehouse keeps each table's rows and the home's files, as data
(schemas/governance/retention.json, policy.py), what expired rows become (aggregate.py), and the run that applies it
for a logical date (run.py: the daily DAG's `retention` task and `marketofone retention`)."""
