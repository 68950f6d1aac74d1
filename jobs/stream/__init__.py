"""The silos' event stream into the lakehouse, exactly once (see jobs/stream/to_lakehouse.py and run.py)."""
