"""The tokenization key: the secret behind every PII token past bronze (jobs/unify/tokenize.py).

A token is an HMAC of a normalized identifier, so whoever holds the key can test every national id (a space of
a few billion values) against a token. The key therefore never has a default anyone can read:

- MARKETOFONE_TOKENIZATION_KEY, or MARKETOFONE_TOKENIZATION_KEY_FILE (a file holding it, e.g. a mounted
  secret), is the key when set;
- otherwise, in the embedded profile, a random key is made once per home, kept in `<home>/secrets/` readable
  by its owner only, and used by every later run of that home (tokens must stay the same from day to day);
- the production profile (MARKETOFONE_PROFILE=production) refuses to start without a key of real strength.

`marketofone rotate-key` replaces the key (jobs/key_rotation.py). The home's own key is replaced in place
(`pending_home_key`, then `install_home_key`); a key set from outside is replaced by whoever keeps the secret.
"""

from __future__ import annotations

import hashlib
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


def fingerprint(key: str) -> str:
    """A short name of a key that does not reveal it (16 hex digits of a hash of a 256-bit random key): what
    the key rotation records (audit.key_rotation) and what a retired key is recognized by."""
    return hashlib.sha256(f"marketofone tokenization key|{key}".encode()).hexdigest()[:16]


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


def _secrets_folder(home: Path) -> Path:
    folder = home / "secrets"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def _write_private(path: Path, key: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")


def pending_home_key(home: Path, given: str | None = None) -> str:
    """The key a rotation of the home's key moves to, kept in `<home>/secrets/tokenization.key.next` until the
    rotation installs it: `given`, else the one a rotation that stopped half way left there (it resumes with the
    same key: the tables it rewrote hold that key's tokens), else a new random one."""
    path = _secrets_folder(home) / "tokenization.key.next"
    if given is not None:
        _write_private(path, given)
    elif not path.exists():
        _write_private(path, secrets.token_urlsafe(32))
    return read_key_file(path)


def install_home_key(home: Path) -> None:
    """Make the pending key the home's key: the old key's file is replaced (os.replace: a reader finds the old
    key or the new one, never none), so the product can no longer read the old key."""
    folder = _secrets_folder(home)
    os.replace(folder / "tokenization.key.next", folder / "tokenization.key")
