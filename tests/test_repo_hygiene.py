"""Nothing secret is committed; the docker deployment is consistent (validated statically: no engine here)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker" / "compose.yaml"

SECRET_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?i)(password|secret_key|pseudo_key|api_key|token)\s*[:=]\s*['\"][^'\"${}<>]{8,}['\"]"),
    re.compile(r"postgres(?:ql)?://[^:\s/]+:(?!\$\{|\*\*\*|pass@)[^@\s/]{6,}@"),
]


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [REPO / p for p in out.splitlines() if (REPO / p).is_file()]


def test_no_secret_literals_in_tracked_files() -> None:
    hits = []
    for path in tracked_files():
        if path.suffix in {".png", ".lock"} or "bad_files" in path.parts:
            continue
        text = path.read_text(errors="ignore")
        for pat in SECRET_PATTERNS:
            for m in pat.finditer(text):
                hits.append(f"{path.relative_to(REPO)}: {m.group(0)[:60]}")
    assert not hits, hits


def test_generated_secrets_are_not_tracked() -> None:
    """Every value in the state folder's generated secrets must be absent from the repository."""
    secrets_dir = REPO / ".spw" / "secrets"
    values = [p.read_text().strip() for p in secrets_dir.glob("*") if p.is_file() and p.suffix != ".json"] \
        if secrets_dir.exists() else []
    values = [v for v in values if len(v) >= 12]
    if not values:
        pytest.skip("no generated secrets on this machine yet")
    for path in tracked_files():
        text = path.read_text(errors="ignore")
        for v in values:
            assert v not in text, f"a generated secret appears in {path}"


def test_state_folder_is_ignored() -> None:
    proc = subprocess.run(["git", "check-ignore", ".spw/secrets/pseudo_key"], cwd=REPO, capture_output=True)
    assert proc.returncode == 0


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_build_contexts_and_copied_files_exist(compose: dict) -> None:
    for name, svc in compose["services"].items():
        build = svc.get("build")
        if not build:
            assert "image" in svc, f"{name} has neither build nor image"
            continue
        context = (COMPOSE.parent / build["context"]).resolve()
        dockerfile = context / build["dockerfile"]
        assert dockerfile.exists(), f"{name}: {dockerfile} missing"
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY "):
                for src in line.split()[1:-1]:
                    assert (context / src).exists(), f"{name}: COPY source {src} missing"


def test_compose_has_no_secret_literals(compose: dict) -> None:
    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(v, str) and re.search(r"(?i)(password|secret|key)", str(k)):
                    assert v.startswith("${") or "${" in v, f"{path}.{k} is a literal secret"
                if isinstance(v, str) and "://" in v and "@" in v:
                    assert "${" in v.split("@")[0], f"{path}.{k} embeds a literal password"
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")

    walk(compose, "compose")


def test_compose_ports_bind_loopback_only(compose: dict) -> None:
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_compose_services_documented() -> None:
    names = set(yaml.safe_load(COMPOSE.read_text())["services"])
    assert {"postgres", "redis", "init", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor",
            "superset"} <= names


def test_compose_uses_committed_locks_and_role_sql() -> None:
    airflow_df = (REPO / "docker" / "airflow.Dockerfile").read_text()
    superset_df = (REPO / "docker" / "superset.Dockerfile").read_text()
    assert "requirements/airflow.lock" in airflow_df and "requirements/dbt.lock" in airflow_df
    assert "requirements/superset.lock" in superset_df
    assert (REPO / "src" / "spw" / "sql" / "roles.sql").exists()
    assert "spw up" in COMPOSE.read_text()  # the init job applies the same role SQL
