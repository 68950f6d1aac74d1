"""Landing -> bronze: load each silo export as it is, quarantine rows that break its contract."""
