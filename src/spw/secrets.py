"""Secrets come from the environment or a generated, git-ignored file under $SPW_HOME/secrets.

Nothing secret is ever committed; a generated secret is created once and re-used so that a second
`make demo` pseudonymises identically and keeps the same logins.

The pseudonymisation key is the exception to "generate when missing": it is looked up in the
environment, then (inside Airflow) Airflow's secrets backends, then the local deployment's file,
and created only by the explicit set-up step (`spw up`, which `spw run` and `make demo` call). A
load never makes one up: a worker without the deployment's key would give every patient another
patient_key and the sources would stop linking.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

from spw.config import spw_home
from spw.errors import SpwError

PSEUDO_KEY_ENV = "SPW_PSEUDO_KEY"
PSEUDO_KEY_VARIABLE = "spw_pseudo_key"  # Airflow Variable (secrets backend or AIRFLOW_VAR_SPW_PSEUDO_KEY)
PSEUDO_KEY_FILE = "pseudo_key"


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


class MissingPseudonymisationKey(SpwError):
    """No pseudonymisation key is configured where this process looks for one."""


def _airflow_variable(name: str) -> str | None:
    """An Airflow Variable, looked up through Airflow's secrets backends, when running inside Airflow."""
    # A process running Airflow (a task, `airflow dags test`) has already imported airflow.sdk; any
    # other (the spw CLI, a benchmark) is not a worker, and importing Airflow there would cost seconds.
    if "airflow.sdk" not in sys.modules:
        return None
    from airflow.sdk import Variable

    # Consults the configured secrets backend(s), then AIRFLOW_VAR_<NAME>, then (in a task) the
    # metadata database; errors of a misconfigured backend propagate, as they should.
    value = Variable.get(name, default=None)
    return str(value) if value else None


def local_key_file() -> Path:
    return spw_home() / "secrets" / PSEUDO_KEY_FILE  # no folder is created for a lookup


def _local_key() -> str | None:
    path = local_key_file()
    return (path.read_text().strip() or None) if path.is_file() else None


def install_local_key(value: bytes) -> Path:
    """Put a key from its custodian (`spw restore --key-file`) where `spw up` would have made it.
    Refuses to replace a different key: the one in place may be the only copy."""
    path = secrets_dir() / PSEUDO_KEY_FILE
    if path.is_file():
        if path.read_bytes().strip() == value.strip():
            return path
        raise SpwError(f"{path} already holds another pseudonymisation key; move it away first if it is "
                       "really not needed (it may be the only copy).")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(value.strip() + b"\n")
    return path


def pseudonymisation_key() -> bytes:
    """Key for the keyed HMAC that turns identities into patient_key (data contract section 3).

    Environment (SPW_PSEUDO_KEY) first; then, inside Airflow, the Variable spw_pseudo_key from
    Airflow's secrets backends; then the local deployment's file made by `spw up`. Never generated
    here: with no key the load fails (MissingPseudonymisationKey) before anything is written.
    """
    value = os.environ.get(PSEUDO_KEY_ENV) or _airflow_variable(PSEUDO_KEY_VARIABLE) or _local_key()
    if not value:
        raise MissingPseudonymisationKey(
            f"no pseudonymisation key: set {PSEUDO_KEY_ENV} in the environment, or the Airflow Variable "
            f"{PSEUDO_KEY_VARIABLE} in Airflow's secrets backend (or AIRFLOW_VAR_{PSEUDO_KEY_VARIABLE.upper()}), "
            f"or run `spw up` to create the local deployment's key in {spw_home() / 'secrets' / PSEUDO_KEY_FILE}. "
            "Use the key every earlier load used: another key gives every patient another patient_key")
    return value.encode()


def ensure_pseudonymisation_key() -> None:
    """Set-up step of the local deployment (`spw up`): create its key file once, unless the
    environment already supplies a key. Never called by a load."""
    if os.environ.get(PSEUDO_KEY_ENV) or os.environ.get(f"AIRFLOW_VAR_{PSEUDO_KEY_VARIABLE.upper()}"):
        return
    _generated(PSEUDO_KEY_FILE)


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
