"""The guard that keeps a published decision from being replaced by a re-run of its date is lifted by a
setting. (Publication itself, on tiny decision frames: tests/integration/test_channels.py.)"""

import pytest

from jobs.settings import Settings


def test_force_republish_is_a_setting(monkeypatch):
    monkeypatch.setenv("MARKETOFONE_FORCE_REPUBLISH", "1")
    assert Settings.from_env().force_republish
    monkeypatch.setenv("MARKETOFONE_FORCE_REPUBLISH", "0")
    assert not Settings.from_env().force_republish
    monkeypatch.setenv("MARKETOFONE_FORCE_REPUBLISH", "maybe")
    with pytest.raises(ValueError, match="MARKETOFONE_FORCE_REPUBLISH must be 1 or 0"):
        Settings.from_env()

