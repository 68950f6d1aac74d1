"""The tokenization key: never a constant; the home's own random key by default; a strong one in production."""

import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from jobs import keys
from jobs.settings import Settings

STRONG = "Zq3v9XbL0pT7wK2mN8sR4yH6cF1dG5jA"


def test_a_home_makes_its_own_random_key_once_and_only_its_owner_reads_it(tmp_path):
    one, other = Settings(home=tmp_path / "one"), Settings(home=tmp_path / "two")
    key = one.token_key()
    assert key == one.token_key() == Settings(home=tmp_path / "one").token_key()  # kept: tokens stay stable
    assert other.token_key() != key
    assert keys.weakness(key) is None
    path = tmp_path / "one" / "secrets" / "tokenization.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_concurrent_first_uses_agree_on_one_key(tmp_path):
    settings = Settings(home=tmp_path)
    with ThreadPoolExecutor(8) as pool:
        found = set(pool.map(lambda _: settings.token_key(), range(16)))
    assert len(found) == 1
    assert [p.name for p in (tmp_path / "secrets").iterdir()] == ["tokenization.key"]  # no candidate left


def test_a_set_key_wins_and_a_key_file_is_read(tmp_path, monkeypatch):
    assert Settings(home=tmp_path, tokenization_key=STRONG).token_key() == STRONG
    assert not (tmp_path / "secrets").exists()
    key_file = tmp_path / "key"
    key_file.write_text(STRONG + "\n")
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    monkeypatch.setenv("MARKETOFONE_TOKENIZATION_KEY_FILE", str(key_file))
    assert Settings.from_env().token_key() == STRONG
    monkeypatch.setenv("MARKETOFONE_TOKENIZATION_KEY", STRONG)
    with pytest.raises(ValueError, match="not both"):
        Settings.from_env()
    monkeypatch.delenv("MARKETOFONE_TOKENIZATION_KEY")
    monkeypatch.setenv("MARKETOFONE_TOKENIZATION_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="cannot read .*missing"):
        Settings.from_env()


@pytest.mark.parametrize("key, why", [("", "it is not set"), ("marketofone-dev-key", "19 characters"),
                                      ("ab" * 20, "2 distinct characters")])
def test_the_production_profile_refuses_a_missing_or_weak_key_and_says_how_to_make_one(tmp_path, key, why):
    with pytest.raises(ValueError, match=f"strong tokenization key, and .*{why}.*secrets.token_urlsafe"):
        Settings(home=tmp_path, profile="production", tokenization_key=key)
    assert Settings(home=tmp_path, profile="production", tokenization_key=STRONG).token_key() == STRONG


def test_an_unknown_profile_is_refused(tmp_path):
    with pytest.raises(ValueError, match="MARKETOFONE_PROFILE must be one of embedded, production"):
        Settings(home=tmp_path, profile="prod")
