"""Privacy: a person's erasure (GDPR Art. 17) across the lakehouse, its files and its stores.

- `subjects.py`: an erasure request -> the identifiers that name the person (golden id, silo ids, account ids);
- `locate.py`: which rows of a lakehouse table belong to those identifiers (a SQL condition per table);
- `files.py`: the person's lines taken out of landing files, channel exports, event files and data-quality reports;
- `tombstones.py`: the silo ids erased, dropped at ingest when a later export still carries them;
- `erasure.py`: a run: queued requests erased, old files purged, decisions redacted, a report per request;
- `scan.py`: every file under the home searched for the person's identifiers (the proof).
"""
