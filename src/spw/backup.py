"""`spw backup` and `spw restore`: the warehouse, the Airflow and Superset metadata databases and the
state folder's secrets in one folder with a manifest (docs/operations.md).

A backup folder (mode 700) holds `<database>.dump` (pg_dump custom format), `secrets/` (the secrets
files, mode 600) and `manifest.json`: checksums, row counts of the warehouse tables and the
pseudonymisation key's fingerprint. The key itself stays out of the backup unless asked for
(`--include-key`): whoever holds both the key and the pseudonymised data can re-identify patients,
so the key has its own custodian. `spw restore` refuses a key whose fingerprint differs from the
backup's unless told otherwise, and refuses to start without one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from psycopg import sql

from spw import db, key_custody, pg
from spw.config import repo_root
from spw.errors import SpwError
from spw.secrets import PSEUDO_KEY_FILE, secrets_dir

FORMAT = "spw-backup/1"
MANIFEST = "manifest.json"
# The local cluster's superuser password belongs to that cluster, not to the data: a restore into a
# new state folder keeps the new cluster's own.
NOT_BACKED_UP = ("db_admin_password",)
COUNTED_SCHEMAS = ("raw", "audit", "marts", "published")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def pg_tool(name: str) -> Path:
    """pg_dump / pg_restore: those of the local cluster's installation (same major), else the newest
    the machine has (for SPW_DATABASE_URL: it must be at least the server's major version)."""
    if not pg.external_url():
        return pg.find_bindir() / name
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: pg._major(str(p)), reverse=True):
        if (folder / name).exists():
            return folder / name
    found = shutil.which(name)
    if found:
        return Path(found)
    raise SpwError(f"{name} was not found: install the PostgreSQL client of the server's version.")


@contextmanager
def _client_env() -> Iterator[dict[str, str]]:
    """Environment for pg_dump/pg_restore as the admin: the password in a private passfile that is
    deleted afterwards, never on the command line (process lists) or in PGPASSWORD (/proc)."""
    parts = urlsplit(db.url("postgres"))
    folder = Path(tempfile.mkdtemp(prefix="spw-pgpass-"))
    passfile = folder / "pgpass"
    escape = str.maketrans({":": "\\:", "\\": "\\\\"})
    fd = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"*:*:*:{unquote(parts.username or '').translate(escape)}:"
                 f"{unquote(parts.password or '').translate(escape)}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGHOST=parts.hostname or "127.0.0.1", PGPORT=str(parts.port or 5432),
               PGUSER=unquote(parts.username or ""), PGPASSFILE=str(passfile))
    try:
        yield env
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-5:])
        raise SpwError(f"{what} failed (exit {proc.returncode}): {tail}")


def row_counts() -> dict[str, int]:
    """Exact row counts of every table in the warehouse's raw, audit, marts and published schemas."""
    counts = {}
    with db.connect("warehouse") as conn:
        tables = conn.execute(
            "select schemaname, tablename from pg_tables where schemaname = any(%s) order by 1, 2",
            (list(COUNTED_SCHEMAS),)).fetchall()
        for schema, table in tables:
            query = sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            counts[f"{schema}.{table}"] = conn.execute(query).fetchone()[0]
    return counts


def _commit() -> str | None:
    proc = subprocess.run(["git", "-C", str(repo_root()), "rev-parse", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() or None


def backup(out: Path, include_key: bool = False, wait: bool = False) -> dict:
    """Write a backup folder; return its manifest. The run lock (shared) keeps `spw run` and
    `spw restore` out while the databases are dumped."""
    from spw import runlock

    out = out.resolve()
    if out.exists() and any(out.iterdir()):
        raise SpwError(f"{out} exists and is not empty: choose a new folder for the backup.")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.mkdir(mode=0o700, exist_ok=True)
    os.chmod(out, 0o700)
    manifest: dict = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                      "spw_commit": _commit(), "databases": {}, "secrets": {}}
    with runlock.hold("backup", wait=wait, shared=True):
        with db.connect("warehouse") as conn:
            manifest["server_version"] = conn.execute("show server_version").fetchone()[0]
            recorded = key_custody.recorded(conn)
        current = key_custody.configured_key()
        if recorded is None and current is not None:
            recorded = key_custody.fingerprint(current)  # never loaded yet: the key `spw up` set up
        if include_key and (current is None or key_custody.fingerprint(current) != recorded):
            raise SpwError("--include-key: the key configured here is not the warehouse's (or there is none).")
        manifest["key"] = {"fingerprint": recorded, "included": include_key}
        manifest["row_counts"] = row_counts()
        with _client_env() as env:
            for name in pg.DATABASES:
                target = out / f"{name}.dump"
                _run([str(pg_tool("pg_dump")), "--format=custom", "--file", str(target), "--dbname", name],
                     env, f"pg_dump of {name}")
                manifest["databases"][name] = {"file": target.name, "bytes": target.stat().st_size,
                                               "sha256": _sha256(target)}
    folder = out / "secrets"
    folder.mkdir(mode=0o700)
    for path in sorted(secrets_dir().iterdir()):
        if not path.is_file() or path.name in NOT_BACKED_UP or (path.name == PSEUDO_KEY_FILE and not include_key):
            continue
        target = folder / path.name
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(path.read_bytes())
        manifest["secrets"][path.name] = _sha256(target)
    if include_key and PSEUDO_KEY_FILE not in manifest["secrets"]:
        raise SpwError("--include-key: the key is not in the state folder's secrets (it comes from the "
                       "environment); give it to its custodian instead.")
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise SpwError(f"{folder} is not an spw backup: it has no {MANIFEST}.")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise SpwError(f"{path}: unknown backup format {manifest.get('format')!r} (expected {FORMAT}).")
    for info in manifest["databases"].values():
        if _sha256(folder / info["file"]) != info["sha256"]:
            raise SpwError(f"{folder / info['file']} does not match its checksum: the backup is damaged.")
    for name, digest in manifest["secrets"].items():
        if _sha256(folder / "secrets" / name) != digest:
            raise SpwError(f"{folder / 'secrets' / name} does not match its checksum: the backup is damaged.")
    return manifest


def _restore_key(folder: Path, manifest: dict, key_file: Path | None, allow_key_change: bool) -> bytes | None:
    """The key to restore with, checked against the backup's fingerprint; also installed in the
    state folder when it came from a file (the custodian's copy or the backup)."""
    from spw.secrets import install_local_key

    expected = manifest["key"]["fingerprint"]
    source, key = "configured here", key_custody.configured_key()
    if key_file is not None:
        source, key = f"in {key_file}", key_custody.read_key_file(key_file)
    elif key is None and manifest["key"]["included"]:
        source, key = "in the backup", key_custody.read_key_file(folder / "secrets" / PSEUDO_KEY_FILE)
    if key is None:
        if expected is None:
            return None  # never loaded: `spw up` makes a key later
        raise SpwError(f"no pseudonymisation key: the backup's data were made with the key of fingerprint "
                       f"{key_custody.short(expected)}; give it with --key-file FILE (from its custodian) or "
                       "SPW_PSEUDO_KEY. Without it no later load would link to the restored patients.")
    if expected is not None and key_custody.fingerprint(key) != expected and not allow_key_change:
        raise key_custody.KeyMismatch(
            key_custody.mismatch_message(key_custody.fingerprint(key), expected, source)
            + "; --allow-key-change restores anyway (later loads will then refuse that key)")
    if source != "configured here":
        install_local_key(key)
    return key


def restore(folder: Path, key_file: Path | None = None, allow_key_change: bool = False, wait: bool = False) -> dict:
    """Replace the three databases and the secrets by the backup's; return {table: rows} as restored.

    Each database is restored into `<name>__restore` first and swapped in only when pg_restore
    succeeded, so a failed restore leaves the current one in place."""
    from spw import runlock, services
    from spw.superset import server

    folder = folder.resolve()
    manifest = read_manifest(folder)
    running = [name for name in services.known() if services.get(name)] + (["superset"] if server.running_pid()
                                                                          else [])
    if running:
        raise SpwError(f"stop the services first (`spw down`): {', '.join(running)} would keep using the "
                       "databases being replaced.")
    _restore_key(folder, manifest, key_file, allow_key_change)
    for name in manifest["secrets"]:
        if name == PSEUDO_KEY_FILE:
            continue  # installed by _restore_key after its check
        target = secrets_dir() / name
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write((folder / "secrets" / name).read_bytes())
    pg.start()
    db.bootstrap()  # roles (with the restored passwords) must exist before the dumps' owners and grants
    with runlock.hold("restore", wait=wait), _client_env() as env:
        for name, info in manifest["databases"].items():
            staging = f"{name}__restore"
            owner = db.DB_OWNERS.get(name)
            with db.connect("postgres", autocommit=True) as conn:
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(staging)))
                conn.execute(db.create_database_sql(staging, owner))
            _run([str(pg_tool("pg_restore")), "--exit-on-error", "--dbname", staging, str(folder / info["file"])],
                 env, f"pg_restore of {name}")
            with db.connect("postgres", autocommit=True) as conn:
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
                conn.execute(sql.SQL("alter database {} rename to {}").format(sql.Identifier(staging),
                                                                               sql.Identifier(name)))
    db.bootstrap()  # database-level grants and settings of roles.sql, on the renamed databases
    (server.state_dir() / "init.json").unlink(missing_ok=True)  # Superset re-checks its metadata
    counts = row_counts()
    differ = {t: (n, counts.get(t)) for t, n in manifest["row_counts"].items() if counts.get(t) != n}
    if differ:
        raise SpwError(f"restored row counts differ from the backup's manifest: {differ}")
    return counts
