"""Decisions -> measures: the relationship KPIs of treated customers against the holdout (gold.kpi_daily,
gold.kpi_by_segment) and the fairness of the decisions across protected groups (gold.fairness_daily).

Downstream of decide: measure reads the decisions and the catalog, decide never needs what measure computes,
with one exception kept acyclic: the offers step runs `fairness.fairness_report` as a gate before it
publishes the channel tables, so fairness.py imports nothing but the domain (Policy only for its type).
"""
