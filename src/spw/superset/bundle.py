"""Import the dashboards-as-code bundle (dashboards/bundle/) into Superset, then roles and RLS.

The committed bundle carries a placeholder warehouse URI; at import time the host and port of this
server are filled in and the password of role spw_bi_reader (from the state folder) is sent in the
request's `passwords` field, so it is never written to a file. Imports overwrite by UUID, so a
re-import changes nothing but content.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml

from spw import db
from spw.config import dashboards_dir
from spw.errors import SpwError
from spw.secrets import role_password
from spw.superset import security, server
from spw.superset.api import SupersetClient

DATABASE_FILE = Path("databases/warehouse.yaml")
MASK = "XXXXXXXXXX"  # Superset's own mask for passwords in exported URIs


def bundle_dir() -> Path:
    return dashboards_dir() / "bundle"


def bundle_tables(src: Path | None = None) -> list[str]:
    """Table names of the bundle's datasets: what every RLS rule and data role covers."""
    return sorted(yaml.safe_load(p.read_text())["table_name"]
                  for p in ((src or bundle_dir()) / "datasets").rglob("*.yaml"))


def warehouse_uri() -> str:
    """SQLAlchemy URI Superset uses to read the warehouse: the BI reader, which sees `published` only.

    The password stays masked here; it travels separately in the import request's `passwords` field.
    """
    url = db.url("warehouse", "spw_bi_reader").replace("postgresql://", "postgresql+psycopg2://", 1)
    parts = urlsplit(url)
    netloc = f"{parts.username}:{MASK}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _zip_bundle(src: Path, workdir: Path) -> Path:
    """Copy the bundle with this server's host/port filled in, zipped under one top folder."""
    staged = workdir / "spw_bundle"
    shutil.copytree(src, staged)
    db_file = staged / DATABASE_FILE
    config = yaml.safe_load(db_file.read_text())
    config["sqlalchemy_uri"] = warehouse_uri()
    db_file.write_text(yaml.safe_dump(config, sort_keys=False))
    archive = workdir / "bundle.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(staged.rglob("*.yaml")):
            zf.write(path, path.relative_to(workdir).as_posix())
    return archive


def import_bundle(base_url: str, src: Path | None = None) -> None:
    """POST the bundle to /api/v1/assets/import/, which overwrites databases, datasets, charts and
    dashboards by UUID (the dashboard importer would leave changed charts and datasets alone)."""
    src = src or bundle_dir()
    if not (src / "metadata.yaml").exists():
        raise SpwError(f"no Superset bundle at {src}")
    api = SupersetClient(base_url, server.ADMIN_USER, server.admin_password())
    with tempfile.TemporaryDirectory(prefix="spw-bundle-") as tmp:
        archive = _zip_bundle(src, Path(tmp))
        with open(archive, "rb") as fh:
            api.request("POST", "/api/v1/assets/import/", expect=(200,),
                        files={"bundle": ("bundle.zip", fh, "application/zip")},
                        data={"passwords": json.dumps({DATABASE_FILE.as_posix(): role_password("spw_bi_reader")})})


def import_all(demo_users: bool = False) -> None:
    """Everything `spw dashboards-import` needs: init, bundle, roles, RLS; `make demo` (`spw demo`)
    adds the demo users (steering-group logins whose passwords it prints), never made otherwise.

    Uses the running Superset, or starts one for the duration and stops it again.
    """
    started = server.running_pid() is None
    if started:
        server.start(port=None)
    try:
        import_bundle(server.base_url())
        security.apply(server.base_url(), bundle_tables(), demo_users=demo_users)
    finally:
        if started:
            server.stop()
