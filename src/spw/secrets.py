"""Secrets come from the environment or a generated, git-ignored file under $SPW_HOME/secrets.

Nothing secret is ever committed; a generated secret is created once and re-used so that a second
`make demo` pseudonymises identically and keeps the same logins.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from spw.config import spw_home


def secrets_dir() -> Path:
    d = spw_home() / "secrets"
    d.mkdir(parents=True, exist_ok=True)
    d.chmod(0o700)
    return d


def _generated(name: str, nbytes: int = 32) -> str:
    path = secrets_dir() / name
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(nbytes)
    # Create with owner-only permissions before writing the value.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def get_secret(env_var: str, file_name: str) -> str:
    """The environment wins; otherwise a generated value persisted in the state folder."""
    value = os.environ.get(env_var)
    return value if value else _generated(file_name)


def pseudonymisation_key() -> bytes:
    """Key for the keyed HMAC that turns identities into patient_key (data contract section 3)."""
    return get_secret("SPW_PSEUDO_KEY", "pseudo_key").encode()


def superset_secret_key() -> str:
    return get_secret("SUPERSET_SECRET_KEY", "superset_secret_key")


def role_password(role: str) -> str:
    """Password of a warehouse login role (spw_loader, ...), env SPW_PASSWORD_<ROLE> wins."""
    return get_secret(f"SPW_PASSWORD_{role.upper()}", f"db_{role}_password")


def json_secret_file(name: str) -> Path:
    return secrets_dir() / name


def write_json_secret(name: str, data: dict) -> Path:
    path = json_secret_file(name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    return path
