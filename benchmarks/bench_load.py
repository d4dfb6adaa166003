"""Ingestion benchmark (not a test): our validated, pseudonymised load vs plain COPY of the same file.

    SPW_HOME=... python benchmarks/bench_load.py --rows 500000 [--files 2] [--repeat 3]

Starts (or re-uses) the cluster of $SPW_HOME, generates GP-appointment deliveries in a temporary
folder, then in the same run, interleaved round by round:
(a) plain `COPY ... FROM STDIN (format csv, header)` of the files into an empty table with the same
    typed columns and no index: the strict baseline, on which the target (our load reaches at least
    0.5 of plain COPY throughput "into an empty table") is judged;
(a2) the same, but the table truncated in the COPY's own transaction: under wal_level = minimal (the
    local cluster's setting) such a COPY writes no WAL, which the loader's bulk path also arranges
    (it truncates the empty raw table); shown so that the loader is also seen against plain COPY
    given the same advantage;
(b) the same plain COPY into an empty table of the same shape as raw.gp_appointments (its columns,
    defaults and unique record key; file_name/file_sha256 given as constant defaults), so that the
    cost of the unique index, which belongs to the table and not to the loader, is in both;
(c) `spw.ingest.loader.load_file` into an emptied raw.gp_appointments: the first file of a round goes
    in as the loader's bulk load into an empty table (record key rebuilt after the COPY); the script
    checks after each round that the key was rebuilt and is in place.
Reports rows/s, both ratios, CPU per row (client and Postgres backend), the load average and peak
memory (max RSS; Python heap by tracemalloc on a separate run so it does not slow the timed one).

    SPW_HOME=... python benchmarks/bench_load.py --rows 500000 --fsync-both [--repeat 3]

instead measures (a) and (c) with fsync on and off in the same run, interleaved round by round (the
order alternating), switching the server's fsync with ALTER SYSTEM and a reload; the cluster must
be started without a command-line fsync (SPW_PG_FSYNC unset), which would override ALTER SYSTEM.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import resource
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

from spw import db, pg
from spw.ingest import contract as c
from spw.ingest.loader import load_file
from spw.ingest.pseudonymise import nhs_number_from
from spw.ingest.schema import ensure_schema
from spw.secrets import ensure_pseudonymisation_key

HEADER = ["appointment_id", "nhs_number", "practice_code", "appointment_date", "appt_status", "hcp_type",
          "appt_mode", "national_category", "time_between_book_and_appt"]
STATUS = ["Attended"] * 8 + ["DNA", "Unknown"]
HCP = ["GP", "GP", "Other Practice staff", "Unknown"]
MODE = ["Face-to-Face", "Face-to-Face", "Telephone", "Home Visit", "Video Conference/Online", "Unknown"]
CATEGORY = ["General Consultation Routine", "Social Prescribing Service", "Planned Clinics", ""]
WAIT = sorted(c.BOOK_TO_APPT)


def generate(path: Path, rows: int, start: int, patients: int = 50_000, id_digits: int = 10) -> None:
    """`id_digits`: digits of appointment_id after "APT". With 10 (the default) about 1 in 11 ids
    passes the NHS check digit and is held back by the loader until the file's patients are known
    (docs/data-contract.md §3); with 9 no id can hold an NHS number."""
    nhs = [x for x in (nhs_number_from(400_000_000 + i) for i in range(patients * 2)) if x][:patients]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(start, start + rows):
            d = date.fromordinal(date(2022, 1, 1).toordinal() + i % 1000)
            w.writerow([f"APT{i:0{id_digits}d}", nhs[(i * 7919) % patients], f"A8{i % 97:04d}", d.isoformat(),
                        STATUS[i % 10], HCP[i % 4], MODE[i % 6], CATEGORY[i % 4], WAIT[i % 8]])


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process, e.g. the Postgres backend of a session."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# (client s, server s) per run
CPU: dict[str, list[tuple[float, float]]] = {"copy": [], "copy_nowal": [], "copy_keyed": [], "spw": []}


def _timed_copy(files: list[Path], table: str, columns: str, name: str, truncate: bool = False) -> float:
    with db.connect("warehouse") as conn:
        server0, client0 = proc_cpu(conn.info.backend_pid), self_cpu()
        t0 = time.perf_counter()
        with conn.transaction():
            if truncate:
                conn.execute(f"truncate {table}")
            for p in files:
                with conn.cursor().copy(f"copy {table} {columns} from stdin (format csv, header)") as cp, \
                        open(p, "rb") as f:
                    while block := f.read(1 << 20):
                        cp.write(block)
        elapsed = time.perf_counter() - t0
        CPU[name].append((self_cpu() - client0, proc_cpu(conn.info.backend_pid) - server0))
        conn.execute(f"drop table {table}")
        conn.commit()
    return elapsed


def plain_copy(files: list[Path], truncate: bool = False) -> float:
    """Baseline (a): the files' columns, typed, into an empty table with no index; (a2) with
    `truncate`, the table truncated in the COPY's transaction."""
    cols = ", ".join(f"{n} {'date' if n == 'appointment_date' else 'text'}" for n in HEADER)
    with db.connect("warehouse") as conn:
        conn.execute("drop table if exists public.bench_plain_copy")
        conn.execute(f"create table public.bench_plain_copy ({cols})")
        conn.commit()
    return _timed_copy(files, "public.bench_plain_copy", "", "copy_nowal" if truncate else "copy", truncate)


def plain_copy_keyed(files: list[Path]) -> float:
    """Baseline (b): an empty copy of raw.gp_appointments (columns, defaults, unique record key).

    The file's nhs_number goes into patient_key as it is; file_name and file_sha256 come from
    constant defaults (one delivery), loaded_at from now(), as in our load.
    """
    with db.connect("warehouse") as conn:
        conn.execute("drop table if exists public.bench_copy_keyed")
        conn.execute("create table public.bench_copy_keyed (like raw.gp_appointments "
                     "including defaults including constraints including indexes)")
        conn.execute("alter table public.bench_copy_keyed alter column file_name set default 'bench.csv', "
                     f"alter column file_sha256 set default '{'0' * 64}'")
        conn.commit()
    columns = "(" + ", ".join(c.PATIENT_KEY if n == c.NHS_NUMBER else n for n in HEADER) + ")"
    return _timed_copy(files, "public.bench_copy_keyed", columns, "copy_keyed")


def raw_table_extras() -> tuple[list[str], int]:
    """Indexes and the number of user triggers on raw.gp_appointments (the loader's target)."""
    with db.connect("warehouse") as conn:
        idx = [r[0] for r in conn.execute(
            "select indexdef from pg_indexes where schemaname = 'raw' and tablename = 'gp_appointments'")]
        trg = conn.execute("select count(*) from pg_trigger where tgrelid = 'raw.gp_appointments'::regclass "
                           "and not tgisinternal").fetchone()[0]
    return idx, trg


def reset_raw() -> None:
    with db.connect("warehouse", "spw_loader") as conn:
        ensure_schema(conn)
        conn.execute("truncate raw.gp_appointments")
        conn.execute("delete from audit.file_loads where source = 'gp_appointments'")
        conn.execute("delete from audit.rejected_rows where source = 'gp_appointments'")
        conn.commit()


def record_key_oid() -> int | None:
    """OID of raw.gp_appointments' record key, a unique index (a new one after a bulk load rebuilt it)."""
    with db.connect("warehouse") as conn:
        row = conn.execute("select i.indexrelid from pg_index i join pg_class k on k.oid = i.indexrelid "
                           "where i.indrelid = 'raw.gp_appointments'::regclass and i.indisunique "
                           "and k.relname = 'gp_appointments_record_key'").fetchone()
    return row[0] if row else None


BULK: list[bool] = []  # per round: did the load rebuild the record key (bulk path)?


def our_load(files: list[Path]) -> float:
    reset_raw()
    key_before = record_key_oid()
    elapsed = _timed_load(files)
    key_after = record_key_oid()
    assert key_after is not None, "raw.gp_appointments lost its record key"
    BULK.append(key_after != key_before)
    return elapsed


def _timed_load(files: list[Path]) -> float:
    with db.connect("warehouse", "spw_loader") as conn:
        server0, client0 = proc_cpu(conn.info.backend_pid), self_cpu()
        t0 = time.perf_counter()
        for p in files:
            r = load_file(conn, "gp_appointments", p, run_id="bench")
            assert r.status == "loaded", r.summary()
        elapsed = time.perf_counter() - t0
        CPU["spw"].append((self_cpu() - client0, proc_cpu(conn.info.backend_pid) - server0))
        return elapsed


def fmt(runs: list[float]) -> str:
    return ", ".join(f"{r:.2f}" for r in runs)


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_line(name: str, label: str, total: int) -> str:
    client, server = min(CPU[name], key=sum)
    return (f"CPU per row, {label}: client {1e6 * client / total:.2f} us + server {1e6 * server / total:.2f} us "
            f"= {1e6 * (client + server) / total:.2f} us")


def set_fsync(value: str) -> None:
    with db.connect("warehouse", autocommit=True) as conn:
        conn.execute(f"alter system set fsync = {'on' if value == 'on' else 'off'}")
        conn.execute("select pg_reload_conf()")
        for _ in range(50):  # the reload is asynchronous: wait until a new session sees it
            with db.connect("warehouse") as probe:
                if probe.execute("show fsync").fetchone()[0] == value:
                    return
            time.sleep(0.1)
    raise RuntimeError(f"fsync did not become {value}")


def fsync_both(files: list[Path], repeat: int, total: int) -> None:
    """(a) and (c) with fsync on and off, interleaved; the server's setting is restored at the end."""
    runs: dict[str, list[float]] = {f"{k}@{v}": [] for k in ("copy", "spw") for v in ("on", "off")}
    loads = [os.getloadavg()[0]]
    try:
        for r in range(repeat):
            for value in (("on", "off") if r % 2 == 0 else ("off", "on")):
                set_fsync(value)
                runs[f"copy@{value}"].append(plain_copy(files))
                runs[f"spw@{value}"].append(our_load(files))
            loads.append(os.getloadavg()[0])
    finally:
        with db.connect("warehouse", autocommit=True) as conn:
            conn.execute("alter system reset fsync")
            conn.execute("select pg_reload_conf()")
    with db.connect("warehouse") as conn:
        settings = {n: conn.execute(f"show {n}").fetchone()[0]
                    for n in ("server_version", "wal_level", "synchronous_commit", "full_page_writes")}
    print(f"postgres {settings['server_version']}, wal_level {settings['wal_level']}, synchronous_commit "
          f"{settings['synchronous_commit']}, full_page_writes {settings['full_page_writes']}; "
          f"{total} rows in {len(files)} file(s); (c) took the bulk path in {sum(BULK)} of {len(BULK)} loads")
    for name, label in (("copy", "(a) plain COPY, no index"), ("spw", "(c) spw loader")):
        for value in ("on", "off"):
            best = min(runs[f"{name}@{value}"])
            print(f"{label:26s} fsync {value:3s} best {best:6.2f} s {total / best:10.0f} rows/s   "
                  f"(runs: {fmt(runs[f'{name}@{value}'])})")
    for name in ("copy", "spw"):
        print(f"{name}: best fsync on / best fsync off = {min(runs[name + '@on']) / min(runs[name + '@off']):.2f}")
    print(f"load average (1 min) at the start and after each round: {', '.join(f'{x:.1f}' for x in loads)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=500_000, help="rows per file")
    ap.add_argument("--files", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fsync-both", action="store_true", help="(a) and (c) with fsync on and off, interleaved")
    ap.add_argument("--id-digits", type=int, default=10, help="digits of each appointment_id (see generate)")
    args = ap.parse_args()
    ensure_pseudonymisation_key()  # set-up, as `spw up` does: loads never create a key
    pg.start()
    db.bootstrap()
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        files = [Path(tmp) / f"2024-{k + 1:02d}.csv" for k in range(args.files)]
        for k, p in enumerate(files):
            generate(p, args.rows, k * args.rows, id_digits=args.id_digits)
        total = args.rows * args.files
        size_mb = sum(p.stat().st_size for p in files) / 1e6
        reset_raw()
        if args.fsync_both:
            fsync_both(files, args.repeat, total)
            reset_raw()
            return
        indexes, triggers = raw_table_extras()
        rss0 = max_rss_mib()
        # Interleaved rounds, best of each: the machine is shared, so noise hits all three alike.
        runs: dict[str, list[float]] = {"copy": [], "copy_nowal": [], "copy_keyed": [], "spw": []}
        for _ in range(args.repeat):
            runs["copy"].append(plain_copy(files))
            runs["copy_nowal"].append(plain_copy(files, truncate=True))
            runs["copy_keyed"].append(plain_copy_keyed(files))
            runs["spw"].append(our_load(files))
            loads.append(os.getloadavg()[0])
        rss_ours = max_rss_mib()
        best = {k: min(v) for k, v in runs.items()}
        reset_raw()
        tracemalloc.start()
        our_load(files)
        heap_peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        reset_raw()
    with db.connect("warehouse") as conn:
        server_version = conn.execute("show server_version").fetchone()[0]
        wal_level = conn.execute("show wal_level").fetchone()[0]
    print(f"machine: {platform.machine()}, {platform.processor() or '?'}, python {platform.python_version()}, "
          f"postgres {server_version} (wal_level {wal_level}), "
          f"{Path('/proc/cpuinfo').read_text().count('processor')} cpu(s)")
    print(f"data: {args.files} file(s) x {args.rows} rows = {total} rows, {size_mb:.1f} MB, "
          f"appointment_id APT + {args.id_digits} digits")
    print(f"raw.gp_appointments: {triggers} user trigger(s); indexes: {'; '.join(indexes)}")
    print(f"(c) took the bulk path (record key rebuilt after the COPY) in {sum(BULK)} of {len(BULK)} loads; "
          "the key was in place after every load")
    labels = {"copy": "(a) plain COPY, no index", "copy_nowal": "(a2) as (a), truncated first",
              "copy_keyed": "(b) plain COPY, raw shape + key",
              "spw": "(c) spw loader"}
    for k, label in labels.items():
        print(f"{label:32s} best {best[k]:6.2f} s {total / best[k]:10.0f} rows/s   (runs: {fmt(runs[k])})")
    print(f"throughput ratio spw / (a), the target's strict baseline (>= 0.5): {best['copy'] / best['spw']:.2f}")
    print(f"throughput ratio spw / (a2), plain COPY also writing no WAL:       {best['copy_nowal'] / best['spw']:.2f}")
    print(f"throughput ratio spw / (b), same table shape and unique key:        {best['copy_keyed'] / best['spw']:.2f}")
    for k, label in labels.items():
        print(cpu_line(k, label, total))
    cpu = {k: sum(min(CPU[k], key=sum)) for k in CPU}
    print(f"CPU ratio (a) / spw: {cpu['copy'] / cpu['spw']:.2f}; (b) / spw: {cpu['copy_keyed'] / cpu['spw']:.2f}")
    print(f"load average (1 min) at the start and after each round: {', '.join(f'{x:.1f}' for x in loads)}")
    print(f"max RSS: start {rss0:.0f} MiB, after the runs {rss_ours:.0f} MiB; "
          f"Python heap peak during one spw load {heap_peak:.1f} MiB")


if __name__ == "__main__":
    main()
