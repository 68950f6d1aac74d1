"""The tokenization key: the secret behind every PII token past bronze (jobs/unify/tokenize.py).

A token is an HMAC of a normalized identifier, so whoever holds the key can test every national id (a space of
a few billion values) against a token. The key therefore never has a default anyone can read:

- MARKETOFONE_TOKENIZATION_KEY, or MARKETOFONE_TOKENIZATION_KEY_FILE (a file holding it, e.g. a mounted
  secret), is the key when set;
- otherwise, in the embedded profile, a random key is made once per home, kept in `<home>/secrets/` readable
  by its owner only, and used by every later run of that home (tokens must stay the same from day to day);
- the production profile (MARKETOFONE_PROFILE=production) refuses to start without a key of real strength.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

MIN_LENGTH = 32        # characters: a token_urlsafe(32) key has 43, a token_hex(32) key 64
MIN_DISTINCT = 12      # distinct characters: refuses "aaaa…" and "1234…" of the right length
HOW_TO_MAKE_ONE = ('make one with: python -c "import secrets; print(secrets.token_urlsafe(32))" and pass it in '
                   "MARKETOFONE_TOKENIZATION_KEY or in a file named by MARKETOFONE_TOKENIZATION_KEY_FILE")


def weakness(key: str) -> str | None:
    """Why `key` is too weak to protect the tokens, or None when it is strong enough."""
    if len(key) < MIN_LENGTH:
        return f"it has {len(key)} characters; at least {MIN_LENGTH} are needed"
    if len(set(key)) < MIN_DISTINCT:
        return f"it uses {len(set(key))} distinct characters; a random key uses at least {MIN_DISTINCT}"
    return None


def read_key_file(path: str | Path) -> str:
    path = Path(path).expanduser()
    try:
        key = path.read_text().strip()
    except OSError as exc:
        raise ValueError(f"MARKETOFONE_TOKENIZATION_KEY_FILE: cannot read {path}: {exc.strerror}") from exc
    if not key:
        raise ValueError(f"MARKETOFONE_TOKENIZATION_KEY_FILE: {path} is empty")
    return key


def home_key(home: Path) -> str:
    """The home's own key, made on first use: 256 random bits, in a file only its owner can read.

    Concurrent first uses (the parallel ingest tasks of a first run) agree on one key: each writes a candidate
    to a file of its own and links it into place, which fails for all but the first; the others read the winner."""
    folder = home / "secrets"
    path = folder / "tokenization.key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        candidate = folder / f".tokenization.key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(candidate, path)
        except FileExistsError:
            pass
        finally:
            candidate.unlink()
    return read_key_file(path)
