"""Scores -> decisions: which offer each customer gets, and why."""
