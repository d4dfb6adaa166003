"""Loader behaviour on whole folders: idempotence, resubmission, crash safety, no clear NHS numbers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psycopg
import pytest
from ingest_helpers import (
    BASE_NHS,
    baseline_rows,
    raw_checksums,
    reset_ingest_tables,
    write_csv,
)

from spw.ingest import contract as c
from spw.ingest.loader import load_file, load_source
from spw.ingest.pseudonymise import nhs_number_error, nhs_number_from

SYNTH_TODAY = date(2025, 10, 15)


@pytest.fixture(scope="module")
def synth_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spw.synth import generate

    out = tmp_path_factory.mktemp("landing")
    generate(out, patients=400, seed=7, today=SYNTH_TODAY)
    return out


def load_all(folder: Path, run_id: str) -> dict[str, list]:
    return {s: load_source(None, folder, s, run_id, today=SYNTH_TODAY) for s in c.SOURCE_NAMES}


def ledger(conn) -> list[tuple]:
    return conn.execute("select source, file_name, sha256, status, rows_loaded from audit.file_loads "
                        "order by id").fetchall()


def test_same_folder_twice_changes_nothing(conn, synth_folder: Path) -> None:
    first = load_all(synth_folder, "run-1")
    assert all(r.status in ("loaded", "duplicate") for rs in first.values() for r in rs)
    assert sum(r.rows_loaded for rs in first.values() for r in rs) > 1000
    raw_before = raw_checksums(conn)
    rejected_before = conn.execute("select count(*) from audit.rejected_rows").fetchone()
    ledger_before = ledger(conn)

    second = load_all(synth_folder, "run-2")

    assert {r.status for rs in second.values() for r in rs} == {"duplicate"}
    assert raw_checksums(conn) == raw_before
    assert conn.execute("select count(*) from audit.rejected_rows").fetchone() == rejected_before
    new = ledger(conn)[len(ledger_before):]
    assert len(new) == sum(len(rs) for rs in second.values())
    assert {(s, st, n) for s, _, _, st, n in new} == {(s, "duplicate", 0) for s in second if second[s]}


def test_synthetic_resubmission_replaces_records(conn, synth_folder: Path) -> None:
    load_all(synth_folder, "run")
    resub = sorted((synth_folder / "gp_appointments").glob("*_resubmission.csv"))
    assert resub, "the synthetic folder carries a resubmission"
    import csv

    with open(resub[0], newline="") as f:
        ids = [row["appointment_id"] for row in csv.DictReader(f)]
    rows = conn.execute("select file_name, count(*) from raw.gp_appointments where appointment_id = any(%s) "
                        "group by 1", (ids,)).fetchall()
    assert rows == [(resub[0].name, len(ids))]


def test_resubmission_latest_delivery_wins(conn, tmp_path: Path) -> None:
    rows = baseline_rows("gp_appointments", 3)
    first = load_file(conn, "gp_appointments", write_csv(tmp_path / "2024-05.csv", rows), "r", today=SYNTH_TODAY)
    corrected = [rows[0], rows[1][:4] + ["Attended", "GP", "Face-to-Face"]]
    second = load_file(conn, "gp_appointments", write_csv(tmp_path / "2024-05_fix.csv", corrected), "r",
                       today=SYNTH_TODAY)
    assert (first.rows_loaded, second.rows_loaded) == (3, 1)
    got = conn.execute("select appointment_id, appt_status, appt_mode, file_name from raw.gp_appointments "
                       "order by 1").fetchall()
    assert got == [("BASEA0", "Attended", "Face-to-Face", "2024-05_fix.csv"),
                   ("BASEA1", "DNA", "Telephone", "2024-05.csv"),
                   ("BASEA2", "DNA", "Telephone", "2024-05.csv")]
    # the replaced version is kept whole in audit.replaced_records, with who replaced it
    kept = conn.execute("select source, patient_key, file_sha256, record->>'appointment_id', "
                        "record->>'appt_status', record->>'file_name', replaced_by_sha256, "
                        "loaded_at < replaced_at from audit.replaced_records").fetchall()
    key = conn.execute("select patient_key from raw.gp_appointments where appointment_id = 'BASEA0'").fetchone()[0]
    assert kept == [("gp_appointments", key, first.sha256, "BASEA0", "DNA", "2024-05.csv", second.sha256, True)]


def test_folder_order_and_non_csv_ignored(conn, tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "ae_attendances"
    write_csv(folder / "2024-10.csv", baseline_rows("ae_attendances", 1))
    rows = baseline_rows("ae_attendances", 1)
    rows[1][3] = "2024-02-02"
    write_csv(folder / "2024-02.CSV", rows)
    write_csv(folder / "notes.txt", [["not", "a", "delivery"]])
    write_csv(folder / ".hidden.csv", [["x"]])
    results = load_source(None, tmp_path / "landing", "ae_attendances", "o", today=SYNTH_TODAY)
    assert [r.file_name for r in results] == ["2024-02.CSV", "2024-10.csv"]
    assert conn.execute("select arrival_date::text, file_name from raw.ae_attendances").fetchall() == [
        ("2024-01-04", "2024-10.csv")]
    assert load_source(None, tmp_path / "nowhere", "ae_attendances", "o") == []


def _big_file(path: Path, rows: int) -> Path:
    nhs = [x for x in (nhs_number_from(700_000_000 + i) for i in range(3000)) if x]
    with open(path, "w") as f:
        f.write("appointment_id,nhs_number,practice_code,appointment_date,appt_status,hcp_type,appt_mode\n")
        for i in range(rows):
            f.write(f"K{i},{nhs[i % len(nhs)]},A81001,2024-0{1 + i % 9}-1{i % 10},Attended,GP,Telephone\n")
    return path


LOADER_SCRIPT = """
import sys
from datetime import date
from spw import db
from spw.ingest.loader import load_source
r = load_source(None, sys.argv[1], "gp_appointments", "crash", today=date(2025, 10, 15))
print(r[0].summary())
"""


def _start_loader(landing: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", LOADER_SCRIPT, str(landing)], env=os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_mid_copy(proc: subprocess.Popen, timeout: float = 60) -> int:
    """Rows the server has received so far, once a COPY of the loader is under way."""
    from spw import db

    deadline = time.monotonic() + timeout
    with db.connect("warehouse", autocommit=True) as admin:
        while time.monotonic() < deadline:
            row = admin.execute("select tuples_processed from pg_stat_progress_copy p join pg_stat_activity a "
                                "using (pid) where a.usename = 'spw_loader'").fetchone()
            if row and row[0] > 0:
                return row[0]
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
    raise AssertionError("the loader never reached its COPY")


def _assert_untouched(conn) -> None:
    conn.rollback()
    assert conn.execute("select count(*) from raw.gp_appointments").fetchone() == (2,)
    assert conn.execute("select status from audit.file_loads where run_id = 'crash'").fetchall() == []


def _seed_baseline(conn, tmp_path: Path) -> None:
    load_file(conn, "gp_appointments", write_csv(tmp_path / "base.csv", baseline_rows("gp_appointments")), "b",
              today=SYNTH_TODAY)


def test_killed_loader_leaves_no_partial_rows(conn, tmp_path: Path) -> None:
    _seed_baseline(conn, tmp_path)
    landing = tmp_path / "landing"
    (landing / "gp_appointments").mkdir(parents=True)
    _big_file(landing / "gp_appointments" / "2024-09.csv", 400_000)
    proc = _start_loader(landing)
    assert _wait_mid_copy(proc) > 0
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    _wait_backend_gone(conn.info.backend_pid)
    _assert_untouched(conn)

    rerun = load_source(None, landing, "gp_appointments", "rerun", today=SYNTH_TODAY)
    assert [(r.status, r.rows_loaded) for r in rerun] == [("loaded", 400_000)]
    assert conn.execute("select count(*) from raw.gp_appointments").fetchone() == (400_002,)


def _wait_backend_gone(own_pid: int, timeout: float = 30) -> None:
    """The killed client's server process notices the lost socket and aborts its transaction."""
    from spw import db

    deadline = time.monotonic() + timeout
    with db.connect("warehouse", autocommit=True) as admin:
        while time.monotonic() < deadline:
            n = admin.execute("select count(*) from pg_stat_activity where usename = 'spw_loader' "
                              "and pid <> %s", (own_pid,)).fetchone()[0]
            if n == 0:
                return
            time.sleep(0.1)
    raise AssertionError("the killed loader's backend is still there")


def test_postgres_restart_mid_load_leaves_no_partial_rows(conn, tmp_path: Path) -> None:
    from spw import db, pg

    _seed_baseline(conn, tmp_path)
    conn.close()
    landing = tmp_path / "landing"
    (landing / "gp_appointments").mkdir(parents=True)
    _big_file(landing / "gp_appointments" / "2024-09.csv", 400_000)
    proc = _start_loader(landing)
    assert _wait_mid_copy(proc) > 0
    pg.stop()
    pg.start()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0, out
    with db.connect("warehouse", "spw_loader") as fresh:
        _assert_untouched(fresh)
        rerun = load_source(None, landing, "gp_appointments", "rerun", today=SYNTH_TODAY)
        assert [(r.status, r.rows_loaded) for r in rerun] == [("loaded", 400_000)]
        assert fresh.execute("select count(*) from raw.gp_appointments").fetchone() == (400_002,)


# A token of ten digits (optionally grouped 3-3-4); hex digests can hold digit runs, so letters bound too.
_TEN_DIGITS = re.compile(r"(?<![0-9A-Za-z])[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}(?![0-9A-Za-z])")


def _nhs_number_in_texts(admin, delivered: set[str]) -> list[str]:
    """Columns of any user table of the warehouse holding a valid NHS number as a token, or any
    delivered NHS number anywhere inside a value."""
    known = re.compile("|".join(sorted(delivered))) if delivered else None
    cols = admin.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema not in ('pg_catalog', 'information_schema') "
        "and data_type in ('text', 'character varying', 'character')").fetchall()
    found = []
    for schema, table, column in cols:
        rows = admin.execute(f'select "{column}" from "{schema}"."{table}" where "{column}" ~ \'[0-9]{{3}}\'')
        for (value,) in rows:
            tokens = (re.sub("[^0-9]", "", m.group(0)) for m in _TEN_DIGITS.finditer(value))
            if any(nhs_number_error(t) is None for t in tokens) or (known and known.search(value)):
                found.append(f"{schema}.{table}.{column}")
                break
    return found


def _delivered_nhs_numbers(folder: Path) -> set[str]:
    import csv

    out: set[str] = set()
    for path in folder.rglob("*.csv"):
        with open(path, newline="", encoding="utf-8-sig") as f:
            for row in csv.DictReader(f):
                if row.get("nhs_number"):
                    out.add(row["nhs_number"])
    return out


def test_no_nhs_number_in_text_anywhere_in_the_warehouse(conn, synth_folder: Path, tmp_path: Path) -> None:
    from spw import db

    load_all(synth_folder, "scan")
    # Also a folder with row errors, so audit.rejected_rows and the ledger hold masked values.
    bad = tmp_path / "bad" / "patients"
    rows = baseline_rows("patients", 3)
    rows[2][0] = rows[2][0][:9] + str((int(rows[2][0][9]) + 1) % 10)  # break the check digit
    rows.append([BASE_NHS[5], "Z90000", "1860", "2", "2015-01-01"])
    write_csv(bad / "with-errors.csv", rows)
    results = load_source(None, tmp_path / "bad", "patients", "scan", today=SYNTH_TODAY)
    assert results[0].status == "rejected" and results[0].rows_rejected == 2
    assert conn.execute("select count(*) from raw.patients").fetchone()[0] >= 400
    with db.connect("warehouse", autocommit=True) as admin:
        delivered = _delivered_nhs_numbers(synth_folder) | _delivered_nhs_numbers(tmp_path / "bad")
        assert len(delivered) >= 400
        assert _nhs_number_in_texts(admin, delivered) == []
        # The scan is able to find one: a clear number in a scratch table is reported.
        admin.execute("create table public.scan_probe (note text)")
        try:
            admin.execute("insert into public.scan_probe values (%s)", (f"x {BASE_NHS[0]} y",))
            assert _nhs_number_in_texts(admin, delivered) == ["public.scan_probe.note"]
        finally:
            admin.execute("drop table public.scan_probe")


def test_file_rewritten_during_load_is_rejected(conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger's sha256 is of the bytes scanned; a file rewritten before it was parsed is refused."""
    import spw.ingest.loader as loader

    path = write_csv(tmp_path / "2024-05.csv", baseline_rows("gp_appointments", 2))
    real_scan = loader.scan_file

    def scan_then_rewrite(p: Path):
        scan = real_scan(p)
        write_csv(p, baseline_rows("gp_appointments", 3))
        os.utime(p, ns=(scan.mtime_ns + 10**9, scan.mtime_ns + 10**9))
        return scan

    monkeypatch.setattr(loader, "scan_file", scan_then_rewrite)
    r = load_file(conn, "gp_appointments", path, "chg", today=SYNTH_TODAY)
    assert (r.status, r.reason) == ("rejected", "the file changed while it was being loaded; deliver it again")
    assert conn.execute("select count(*) from raw.gp_appointments").fetchone() == (0,)


def test_memory_does_not_grow_with_file_size(conn, tmp_path: Path) -> None:
    """Rows stream to COPY: the Python heap peak for a 10x larger file stays about the same."""
    import tracemalloc

    peaks = {}
    # Warm-up: one-time caches (the set of valid dates) are not per-file memory.
    load_file(conn, "gp_appointments", _big_file(tmp_path / "warm.csv", 100), "mem", today=SYNTH_TODAY)
    for rows in (20_000, 200_000):
        path = _big_file(tmp_path / f"{rows}.csv", rows)
        reset_ingest_tables(conn)
        tracemalloc.start()
        r = load_file(conn, "gp_appointments", path, "mem", today=SYNTH_TODAY)
        peaks[rows] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert r.rows_loaded == rows
    assert peaks[200_000] < 1.5 * peaks[20_000] + 2 * 2**20, peaks


def test_copy_sending_thread_keeps_order_and_bounds_its_queue(conn, monkeypatch: pytest.MonkeyPatch) -> None:
    """COPY pieces reach the server in order; ahead of a slow server, write() waits once `depth`
    pieces are queued (memory stays bounded)."""
    import threading

    from psycopg.copy import LibpqWriter

    from spw.ingest.copy_stream import SendThread

    gate = threading.Event()
    real_write = LibpqWriter.write

    def slow_write(self, data) -> None:
        gate.wait()
        real_write(self, data)

    monkeypatch.setattr(LibpqWriter, "write", slow_write)
    conn.execute("create temporary table sink (n int, seq bigint generated always as identity)")
    cur = conn.cursor()
    writer = SendThread(cur, depth=2)
    with cur.copy("copy sink (n) from stdin", writer=writer) as cp:
        producer = threading.Thread(target=lambda: [cp.write(f"{i}\n") for i in range(6)])
        producer.start()
        try:
            for _ in range(1000):
                if writer._queue.full():
                    break
                time.sleep(0.01)
            # 6 pieces: at most 1 held by the blocked sender and 2 queued, so the producer must wait.
            assert writer._queue.full() and producer.is_alive()
        finally:
            gate.set()
            producer.join()
    assert [r[0] for r in conn.execute("select n from sink order by seq")] == list(range(6))


def test_copy_sending_thread_error_reaches_the_loader(conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while sending (e.g. a lost connection) fails the load; nothing is kept, the
    connection stays usable and the sending thread ends."""
    import threading

    from psycopg.copy import LibpqWriter

    def broken_write(self, data) -> None:
        raise OSError("send failed")

    path = _big_file(tmp_path / "2024-07.csv", 30_000)  # several COPY pieces
    monkeypatch.setattr(LibpqWriter, "write", broken_write)
    with pytest.raises(OSError, match="send failed"):
        load_file(conn, "gp_appointments", path, "err", today=SYNTH_TODAY)
    assert not [t for t in threading.enumerate() if t.name == "spw-copy"]
    monkeypatch.undo()
    assert conn.execute("select count(*) from raw.gp_appointments").fetchone() == (0,)
    assert conn.execute("select count(*) from audit.file_loads").fetchone() == (0,)
    r = load_file(conn, "gp_appointments", path, "ok", today=SYNTH_TODAY)
    assert (r.status, r.rows_loaded) == ("loaded", 30_000)


def test_existing_key_early_in_a_large_file_goes_through_the_stage(conn, tmp_path: Path) -> None:
    """The server stops the direct COPY at the first existing key while the sending thread still has
    pieces to send; the load falls back to the stage table and replaces the record."""
    load_file(conn, "gp_appointments", _big_file(tmp_path / "2024-08.csv", 2), "s", today=SYNTH_TODAY)
    r = load_file(conn, "gp_appointments", _big_file(tmp_path / "2024-09.csv", 40_000), "s", today=SYNTH_TODAY)
    assert (r.status, r.rows_loaded) == ("loaded", 40_000)
    assert conn.execute("select count(*), count(distinct appointment_id) from raw.gp_appointments "
                        "where file_name = '2024-09.csv'").fetchone() == (40_000, 40_000)


def _raw_definition(conn) -> tuple[list[tuple], list[tuple]]:
    """raw.gp_appointments' constraints, indexes and column defaults, as the catalog shows them."""
    keys = conn.execute("select conname, pg_get_constraintdef(oid) from pg_constraint "
                        "where conrelid = 'raw.gp_appointments'::regclass union all "
                        "select indexname, indexdef from pg_indexes where schemaname = 'raw' "
                        "and tablename = 'gp_appointments' order by 1").fetchall()
    defaults = conn.execute("select column_name, column_default from information_schema.columns "
                            "where table_schema = 'raw' and table_name = 'gp_appointments' "
                            "and column_default is not null order by 1").fetchall()
    return keys, defaults


def _raw_rows(conn) -> tuple[int, str]:
    """Count and checksum of raw.gp_appointments without loaded_at (the load's time)."""
    return conn.execute("select count(*), md5(string_agg(r::text, '|' order by r::text)) from (select "
                        "patient_key, appointment_id, practice_code, appointment_date, appt_status, hcp_type, "
                        "appt_mode, national_category, time_between_book_and_appt, file_name, file_sha256 "
                        "from raw.gp_appointments) r").fetchone()


@pytest.fixture()
def bulk_spy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every file is a bulk candidate; the list records whether each load took the bulk path."""
    import spw.ingest.loader as loader

    taken: list[bool] = []
    real = loader.begin_bulk

    def spy(*args) -> bool:
        taken.append(real(*args))
        return taken[-1]

    monkeypatch.setattr(loader, "BULK_MIN_BYTES", 0)
    monkeypatch.setattr(loader, "begin_bulk", spy)
    return taken


def test_bulk_load_into_an_empty_table_matches_the_usual_load(conn, tmp_path: Path, bulk_spy: list[bool],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import spw.ingest.loader as loader

    definition = _raw_definition(conn)
    rows = baseline_rows("gp_appointments", 40)
    path = write_csv(tmp_path / "2024-10 (NHS 943 476 5919).csv", rows)
    bulk = load_file(conn, "gp_appointments", path, "bulk", today=SYNTH_TODAY)
    assert bulk_spy == [True] and (bulk.status, bulk.rows_loaded) == ("loaded", 40)
    assert _raw_definition(conn) == definition  # record key rebuilt, the file's defaults removed
    loaded = _raw_rows(conn)
    assert conn.execute("select distinct file_name, file_sha256 from raw.gp_appointments").fetchall() == [
        (bulk.file_name, bulk.sha256)]
    assert "943" not in bulk.file_name  # the masked name, as in the usual path

    reset_ingest_tables(conn)
    monkeypatch.setattr(loader, "BULK_MIN_BYTES", 1 << 62)
    usual = load_file(conn, "gp_appointments", path, "usual", today=SYNTH_TODAY)
    assert bulk_spy == [True]  # not asked again: the file is below the size
    assert _raw_rows(conn) == loaded
    assert [getattr(usual, f) for f in ("status", "rows_read", "rows_loaded", "rows_rejected", "warnings")] == [
        getattr(bulk, f) for f in ("status", "rows_read", "rows_loaded", "rows_rejected", "warnings")]


def test_bulk_load_only_into_an_empty_table(conn, tmp_path: Path, bulk_spy: list[bool]) -> None:
    """A table with rows keeps its key during a load (its readers are not locked out); an existing
    key is then replaced as usual."""
    _seed_baseline(conn, tmp_path)
    assert bulk_spy == [True]  # the first delivery went in as a bulk load
    r = load_file(conn, "gp_appointments", write_csv(tmp_path / "2024-11.csv", baseline_rows("gp_appointments", 3)),
                  "more", today=SYNTH_TODAY)
    assert bulk_spy == [True, False] and r.rows_loaded == 3
    assert conn.execute("select file_name, count(*) from raw.gp_appointments group by 1").fetchall() == [
        ("2024-11.csv", 3)]


def test_bulk_load_with_a_key_twice_is_rejected_naming_the_lines(conn, tmp_path: Path, bulk_spy: list[bool]) -> None:
    definition = _raw_definition(conn)
    rows = baseline_rows("gp_appointments", 30)
    rows[20][0] = rows[3][0]
    r = load_file(conn, "gp_appointments", write_csv(tmp_path / "dup.csv", rows), "dup", today=SYNTH_TODAY)
    assert bulk_spy == [True]
    assert r.status == "rejected"
    assert r.reason == (f"duplicate record key (appointment_id): appointment_id={rows[3][0]} appears on lines 4, 21; "
                        "a delivery must carry each record once")
    assert conn.execute("select count(*) from raw.gp_appointments").fetchone() == (0,)
    assert _raw_definition(conn) == definition


def test_bulk_load_over_the_error_threshold_leaves_the_table_as_it_was(conn, tmp_path: Path,
                                                                       bulk_spy: list[bool]) -> None:
    definition = _raw_definition(conn)
    rows = baseline_rows("gp_appointments", 30)
    rows[7][4] = "Maybe"
    r = load_file(conn, "gp_appointments", write_csv(tmp_path / "bad.csv", rows), "bad", today=SYNTH_TODAY)
    assert bulk_spy == [True] and r.status == "rejected" and r.rows_rejected == 1
    assert conn.execute("select count(*) from raw.gp_appointments").fetchone() == (0,)
    assert conn.execute("select count(*) from audit.rejected_rows").fetchone() == (1,)
    assert _raw_definition(conn) == definition


def test_bulk_load_does_not_wait_long_for_a_reader(conn, tmp_path: Path, bulk_spy: list[bool],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader of the empty table (an open transaction that read it) keeps the exclusive lock from
    being granted: after BULK_LOCK_WAIT the load goes the usual way, and the reader is not blocked."""
    import spw.ingest.bulk as bulk
    from spw import db

    monkeypatch.setattr(bulk, "BULK_LOCK_WAIT", "200ms")
    with db.connect("warehouse", "spw_transformer") as reader:
        assert reader.execute("select count(*) from raw.gp_appointments").fetchone() == (0,)
        t0 = time.monotonic()
        r = load_file(conn, "gp_appointments", _big_file(tmp_path / "2024-12.csv", 1000), "rd", today=SYNTH_TODAY)
        assert bulk_spy == [False] and (r.status, r.rows_loaded) == ("loaded", 1000)
        assert time.monotonic() - t0 < 30
        assert conn.execute("show lock_timeout").fetchone() == ("0",)  # the session's setting is back
        reader.rollback()
        assert reader.execute("select count(*) from raw.gp_appointments").fetchone() == (1000,)


def test_killed_bulk_load_leaves_the_table_as_it_was(conn, tmp_path: Path) -> None:
    definition = _raw_definition(conn)
    landing = tmp_path / "landing"
    (landing / "gp_appointments").mkdir(parents=True)
    path = _big_file(landing / "gp_appointments" / "2024-09.csv", 400_000)
    from spw.ingest.bulk import BULK_MIN_BYTES

    assert path.stat().st_size >= BULK_MIN_BYTES  # a bulk load: the table is empty
    proc = _start_loader(landing)
    assert _wait_mid_copy(proc) > 0
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    _wait_backend_gone(conn.info.backend_pid)
    conn.rollback()
    assert conn.execute("select count(*) from raw.gp_appointments").fetchone() == (0,)
    assert conn.execute("select count(*) from audit.file_loads").fetchone() == (0,)
    assert _raw_definition(conn) == definition
    rerun = load_source(None, landing, "gp_appointments", "rerun", today=SYNTH_TODAY)
    assert [(r.status, r.rows_loaded) for r in rerun] == [("loaded", 400_000)]
    assert _raw_definition(conn) == definition


def test_a_bulk_load_does_not_hold_up_other_sources(conn, tmp_path: Path) -> None:
    """While one source's bulk load holds its table, another source's load (ensure_schema included)
    goes ahead: parallel DAG tasks are not serialised behind it."""
    from spw import db
    from spw.ingest.bulk import begin_bulk

    def factory():
        other = db.connect("warehouse", "spw_loader")
        other.execute("set lock_timeout = '5s'")  # fail, not hang, if it waits for the bulk load
        other.commit()
        return other

    write_csv(tmp_path / "landing" / "ae_attendances" / "2024-01.csv", baseline_rows("ae_attendances", 2))
    with db.connect("warehouse", "spw_loader") as bulk:
        assert begin_bulk(bulk, c.get_source("gp_appointments"), "x.csv", "0" * 64)
        results = load_source(factory, tmp_path / "landing", "ae_attendances", "par", today=SYNTH_TODAY)
        assert [(r.status, r.rows_loaded) for r in results] == [("loaded", 2)]
        bulk.rollback()
    assert _raw_definition(conn)[0] == [
        ("gp_appointments_loaded_at", "CREATE INDEX gp_appointments_loaded_at ON raw.gp_appointments "
         "USING btree (loaded_at)"),
        ("gp_appointments_record_key", "CREATE UNIQUE INDEX gp_appointments_record_key ON raw.gp_appointments "
         "USING btree (appointment_id text_pattern_ops) NULLS NOT DISTINCT")]


def test_two_loaders_of_one_source_at_once(conn, tmp_path: Path, bulk_spy: list[bool]) -> None:
    """Two loads into the same empty table at once: at most one is a bulk load, neither fails (the
    lock wait gives up before Postgres's deadlock check), and every row arrives under one key."""
    import threading

    from spw import db

    definition = _raw_definition(conn)
    paths = [write_csv(tmp_path / f"2024-0{k + 1}.csv", baseline_rows("gp_appointments", 30, prefix=f"T{k}"))
             for k in range(2)]
    results: dict[int, object] = {}
    barrier = threading.Barrier(2)

    def load(k: int) -> None:
        with db.connect("warehouse", "spw_loader") as own:
            barrier.wait()
            results[k] = load_file(own, "gp_appointments", paths[k], "two", today=SYNTH_TODAY)

    threads = [threading.Thread(target=load, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted((r.status, r.rows_loaded) for r in results.values()) == [("loaded", 30), ("loaded", 30)]
    assert sum(bulk_spy) <= 1 and len(bulk_spy) == 2
    conn.rollback()
    assert conn.execute("select count(*) from raw.gp_appointments").fetchone() == (60,)
    assert _raw_definition(conn) == definition


def _rejected_row_with_key(path: Path, line: int, key: str) -> Path:
    """_big_file's `line` made a row error (appt_mode Fax) carrying the record key `key`."""
    lines = path.read_text().splitlines(keepends=True)
    fields = lines[line - 1].split(",")
    fields[0], fields[6] = key, "Fax\n"
    lines[line - 1] = ",".join(fields)
    path.write_text("".join(lines))
    return path


def _repeat_key_on_a_rejected_row(path: Path, line: int, of_line: int) -> Path:
    """_big_file's `line` made a row error carrying the key of line `of_line` (K<of_line - 2>)."""
    return _rejected_row_with_key(path, line, f"K{of_line - 2}")


def _dup_reason(key: str, lines: str) -> str:
    return (f"duplicate record key (appointment_id): appointment_id={key} appears on lines {lines}; "
            "a delivery must carry each record once")


def _assert_rejected_for_repeat(conn, r, key: str, lines: str, rejected_line: int, before: tuple) -> None:
    assert (r.status, r.rows_loaded, r.rows_rejected, r.reason) == ("rejected", 0, 1, _dup_reason(key, lines))
    assert conn.execute("select line_number, rule from audit.rejected_rows").fetchall() == [
        (rejected_line, "code_set")]
    assert _raw_rows(conn) == before


def test_bulk_load_with_a_rejected_row_repeating_a_key_is_rejected(conn, tmp_path: Path,
                                                                   bulk_spy: list[bool]) -> None:
    """Contract §4: a key twice in the file rejects it even when one copy is a rejected row; the
    bulk load is undone (record key and defaults as they were) and the lines are named."""
    definition = _raw_definition(conn)
    path = _repeat_key_on_a_rejected_row(_big_file(tmp_path / "dup.csv", 300), 252, 5)
    r = load_file(conn, "gp_appointments", path, "dup", today=SYNTH_TODAY)
    assert bulk_spy == [True]
    _assert_rejected_for_repeat(conn, r, "K3", "5, 252", 252, (0, None))
    assert _raw_definition(conn) == definition


def test_rejected_row_repeating_a_key_through_the_stage(conn, tmp_path: Path) -> None:
    """The stage path (the file also replaces an existing record) finds the repeat too."""
    _seed_baseline(conn, tmp_path)
    before = _raw_rows(conn)
    path = _big_file(tmp_path / "dup.csv", 300)
    text = path.read_text().replace("K0,", "BASEA0,", 1)  # an existing key: the direct COPY stops
    path.write_text(text)
    r = load_file(conn, "gp_appointments", _repeat_key_on_a_rejected_row(path, 30, 200), "dup", today=SYNTH_TODAY)
    _assert_rejected_for_repeat(conn, r, "K198", "30, 200", 30, before)


def test_rejected_row_repeating_a_key_in_a_large_file(conn, tmp_path: Path) -> None:
    """Most rows take the block path straight into raw; the repeat is found from the rejected rows'
    keys after the COPY, and the file is loaded again through the stage to name the lines."""
    _seed_baseline(conn, tmp_path)
    before = _raw_rows(conn)
    path = _repeat_key_on_a_rejected_row(_big_file(tmp_path / "dup.csv", 40_000), 30_002, 12)
    r = load_file(conn, "gp_appointments", path, "dup", today=SYNTH_TODAY)
    _assert_rejected_for_repeat(conn, r, "K10", "12, 30002", 30_002, before)


def test_files_with_rejected_rows_in_one_caller_transaction(conn, tmp_path: Path) -> None:
    """Loads run inside the caller's open transaction (savepoints) still each get their own table of
    rejected keys, and a rejected row repeating an older delivery's key is no duplicate."""
    conn.execute("select 1")  # the caller's transaction is open: load_file uses savepoints
    results = []
    for k in range(2):
        path = _repeat_key_on_a_rejected_row(_big_file(tmp_path / f"{k}.csv", 200 + k), 100, 2)
        results.append(load_file(conn, "gp_appointments", path, "one", today=SYNTH_TODAY))
    assert [(r.status, r.rows_loaded, r.rows_rejected) for r in results] == [("rejected", 0, 1), ("rejected", 0, 1)]
    first = write_csv(tmp_path / "a.csv", baseline_rows("gp_appointments", 2))
    # The key of the earlier delivery (loaded in this same transaction), on a rejected row.
    second = _rejected_row_with_key(_big_file(tmp_path / "b.csv", 150), 40, "BASEA0")
    results = [load_file(conn, "gp_appointments", p, "one", today=SYNTH_TODAY) for p in (first, second)]
    assert [(r.status, r.rows_loaded, r.rows_rejected) for r in results] == [("loaded", 2, 0), ("loaded", 149, 1)]
    conn.commit()
    assert conn.execute("select file_name, count(*) from raw.gp_appointments group by 1 order by 1").fetchall() == [
        ("a.csv", 2), ("b.csv", 149)]


def test_quoted_field_over_the_loaders_limit_is_rejected_with_its_reason(conn, tmp_path: Path) -> None:
    """Lines within MAX_LINE_BYTES, one quoted field over MAX_FIELD_CHARS across them: one clear reason
    (not csv's own message), nothing loaded. The same value's lines one by one would load."""
    from spw.ingest.scan import MAX_FIELD_CHARS, MAX_LINE_BYTES

    _seed_baseline(conn, tmp_path)
    before = _raw_rows(conn)
    part = "z" * (MAX_LINE_BYTES // 2)
    rows = [["appointment_id", "nhs_number", "practice_code", "appointment_date", "appt_status", "hcp_type",
             "appt_mode", "national_category"],
            ["L1", BASE_NHS[0], "A81001", "2024-05-01", "Attended", "GP", "Telephone", "short"],
            ["L2", BASE_NHS[1], "A81001", "2024-05-01", "Attended", "GP", "Telephone", "\n".join([part] * 3)]]
    r = load_file(conn, "gp_appointments", write_csv(tmp_path / "long.csv", rows), "long", today=SYNTH_TODAY)
    assert (r.status, r.rows_loaded) == ("rejected", 0)
    assert r.reason == (f"the record starting at line 3 has a quoted field longer than {MAX_FIELD_CHARS} characters, "
                        "the loader's limit for one field (an implementation limit, see the data contract)")
    assert _raw_rows(conn) == before


def test_record_key_made_an_index_in_an_older_database(conn) -> None:
    """A database made when the record key was a unique constraint gets the unique index instead
    (ensure_schema), and the key still stops a second copy of a record."""
    from spw.ingest.schema import ensure_schema

    reset_ingest_tables(conn)
    new = _raw_definition(conn)
    conn.execute("drop index raw.gp_appointments_record_key")
    conn.execute("alter table raw.gp_appointments add constraint gp_appointments_record_key "
                 "unique nulls not distinct (appointment_id)")
    conn.commit()
    assert _raw_definition(conn) != new
    ensure_schema(conn)
    assert _raw_definition(conn) == new
    insert = ("insert into raw.gp_appointments (patient_key, appointment_id, practice_code, appointment_date, "
              "appt_status, hcp_type, appt_mode, file_name, file_sha256) values "
              "('k', 'APT1', 'A81001', '2024-01-01', 'Attended', 'GP', 'Face-to-Face', 'f', 's')")
    conn.execute(insert)
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(insert)
    conn.rollback()


@pytest.mark.parametrize("path", ["bulk", "usual"])
def test_identifier_holding_a_registered_patients_number(conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         path: str) -> None:
    """An identifier holding the NHS number of a patient of the register (raw.patients), who has no row
    in the delivery, is rejected with the value masked; ten-digit identifiers that merely pass the check
    digit (about 1 in 11, held back until the patients are known) all load, through the bulk load into
    an empty table, the usual COPY, and the stage table of a resubmission alike."""
    import spw.ingest.loader as loader

    reset_ingest_tables(conn)
    monkeypatch.setattr(loader, "BULK_MIN_BYTES", 0 if path == "bulk" else 1 << 62)
    registered = BASE_NHS[5]
    patients = [["nhs_number", "practice_code", "year_of_birth", "sex", "registration_start_date"],
                [registered, "Z90000", "1960", "2", "2015-01-01"]]
    assert load_file(conn, "patients", write_csv(tmp_path / "p.csv", patients), "p", today=SYNTH_TODAY).rows_loaded == 1
    header = ["appointment_id", "nhs_number", "practice_code", "appointment_date", "appt_status", "hcp_type",
              "appt_mode"]
    rows = [[f"{4010232100 + i}", BASE_NHS[10 + i % 20], "Z90000", "2024-01-03", "DNA", "GP", "Telephone"]
            for i in range(300)]
    rows.insert(99, ["X" + registered, BASE_NHS[40], "Z90000", "2024-01-03", "DNA", "GP", "Telephone"])  # line 101
    passing = sum(nhs_number_error(r[0]) is None for r in rows)
    assert passing > 20  # the held rows are many, and not a patient's
    for month, status in (("2024-01", "DNA"), ("2024-02", "Attended")):  # the second replaces every record
        data = [header, *[[*r[:4], status, *r[5:]] for r in rows]]
        result = load_file(conn, "gp_appointments", write_csv(tmp_path / f"{month}.csv", data), month,
                           today=SYNTH_TODAY)
        assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == (
            "loaded", 301, 300, 1), result.summary()
        assert conn.execute("select line_number, column_name, rule, value from audit.rejected_rows "
                            "where file_name = %s", (f"{month}.csv",)).fetchall() == [
            (101, "appointment_id", "nhs_number_in_text", "X**********")]
        assert conn.execute("select count(*), count(*) filter (where appt_status = %s) from raw.gp_appointments",
                            (status,)).fetchone() == (300, 300)
    assert conn.execute("select count(*) from raw.gp_appointments where appointment_id like %s",
                        (f"%{registered}%",)).fetchone() == (0,)
    assert conn.execute("select count(*) from audit.replaced_records").fetchone() == (300,)
