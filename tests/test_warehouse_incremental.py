"""An incremental build gives exactly what a full rebuild gives.

The one-month refresh rebuilds only what changed (macros/incremental.sql): patients with new or
replaced activity, files with new or lost rows, index rows whose matching was invalidated. Here a
synthetic ICB is built without its last month; then the last month lands together with corrections
(a GP appointment moved to another patient, one re-dated, a referral re-dated, a late A&E attendance),
one index patient is still in hospital (their bed days grow with the cut-off), and the incremental
build must equal a --full-refresh build table for table, row for row, in every
incremental model, mart and published table. A second round deletes raw rows behind the loader's back:
the incremental models must notice (audit.raw_writes counts the statement) and rebuild in full.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import warehouse_helpers as wh

pytestmark = pytest.mark.slow

PATIENTS = 3000
SEED = 5
MONTHLY = ("sp_referrals", "sp_wellbeing", "gp_appointments", "ae_attendances", "inpatient_admissions")
INCREMENTAL = (
    "intermediate.int_patient_timelines", "intermediate.int_dq_record_checks", "intermediate.int_match_todo",
    "intermediate.int_match_pool", "intermediate.int_match_extended", "intermediate.int_matched_controls",
    "intermediate.int_did_patient", "intermediate.int_demand_cells", "intermediate.int_equity_registered_cells",
)
# the state an incremental row was built from: differs between the two builds by design
STATE = {"loaded_through", "raw_drift", "todo_at", "todo_through", "built_at", "built_through", "did_through"}


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def _split(full: Path, initial: Path, last: Path) -> None:
    """Every delivery to `initial` except each monthly source's last month, which goes to `last`."""
    for source_dir in sorted(p for p in full.iterdir() if p.is_dir()):
        files = sorted(source_dir.glob("*.csv"))
        for f in files:
            to = last if source_dir.name in MONTHLY and f == files[-1] else initial
            (to / source_dir.name).mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, to / source_dir.name / f.name)


def _corrections(full: Path, last: Path) -> None:
    """Resubmissions and a late record, landing with the last month."""
    gp = sorted((full / "gp_appointments").glob("*.csv"))[3]
    header, rows = _rows(gp)
    attended = [r for r in rows if r["appt_status"] == "Attended"]
    moved, redated = dict(attended[0]), dict(attended[1])
    identity = "nhs_number" if "nhs_number" in header else "pseudo_nhs_number"
    moved[identity] = next(r[identity] for r in attended if r[identity] != moved[identity])
    redated["appointment_date"] = redated["appointment_date"][:8] + "01"
    _write(last / "gp_appointments" / f"{gp.stem}_fix.csv", header, [moved, redated])

    ref = sorted((full / "sp_referrals").glob("*.csv"))[2]
    header, rows = _rows(ref)
    earlier = dict(rows[0])
    earlier["referral_date"] = earlier["referral_date"][:8] + "01"
    _write(last / "sp_referrals" / f"{ref.stem}_fix.csv", header, [earlier])

    ae = sorted((full / "ae_attendances").glob("*.csv"))[4]
    header, rows = _rows(ae)
    late = dict(rows[0])
    late["ec_ident"] = "LATE-" + late["ec_ident"]
    _write(last / "ae_attendances" / f"{ae.stem}_late.csv", header, [late])


def _open_spell(full: Path, initial: Path) -> None:
    """An index patient still in hospital after an emergency admission dated in their post windows.
    Its bed days run to the data cut-off, which each month moves: int_did_patient must recompute the
    patient's rows although nothing of theirs was loaded (neither the ring nor the todo changes)."""
    # a year whose ring the corrections (dated in 2022) leave alone, so no todo covers the patient
    header, rows = _rows(sorted((full / "sp_referrals").glob("*.csv"))[11])
    identity = "nhs_number" if "nhs_number" in header else "pseudo_nhs_number"
    referral = rows[0]
    apc = sorted((full / "inpatient_admissions").glob("*.csv"))[0]
    apc_header, _ = _rows(apc)
    assert identity in apc_header, "referrals and admissions name the identity alike"
    admitted = f"{referral['referral_date'][:8]}20"
    spell = {"spell_id": "OPEN-1", identity: referral[identity], "provider_code": "RZ2",
             "admission_date": admitted, "discharge_date": "", "admission_method": "21"}
    _write(initial / "inpatient_admissions" / f"{admitted[:7]}_open.csv", apc_header, [spell])


def _tables() -> list[str]:
    built = wh.query("select table_schema || '.' || table_name as t from information_schema.tables "
                     "where table_schema in ('marts', 'published') and table_type = 'BASE TABLE' order by 1")
    return list(INCREMENTAL) + [r["t"] for r in built]


def _contents(tables: list[str]) -> dict[str, list[tuple]]:
    out = {}
    for t in tables:
        schema, name = t.split(".")
        cols = [r["column_name"] for r in wh.query(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
            "order by ordinal_position", (schema, name)) if r["column_name"] not in STATE]
        select = ", ".join(f'"{c}"' for c in cols)
        out[t] = sorted((tuple(r.values()) for r in wh.query(f"select {select} from {t}")), key=repr)
    return out


def _incremental_equals_full() -> dict[str, list[tuple]]:
    from spw.dbtrun import run_dbt

    tables = _tables()
    incremental = _contents(tables)
    run_dbt(["run", "-q", "--full-refresh"])
    full = _contents(tables)
    for t in tables:
        assert incremental[t] == full[t], f"{t}: incremental build differs from a full rebuild"
    return incremental


def test_incremental_build_equals_full_rebuild(fresh_warehouse: str, tmp_path: Path) -> None:
    from spw.dbtrun import run_dbt
    from spw.synth.generator import generate

    full, initial, last = tmp_path / "full", tmp_path / "initial", tmp_path / "last"
    generate(full, patients=PATIENTS, seed=SEED)
    _split(full, initial, last)
    _corrections(full, last)
    _open_spell(full, initial)

    wh.load_folder(initial)
    run_dbt(["seed", "-q"])
    run_dbt(["run", "-q"])
    replaced = "select count(*) as n from audit.replaced_records"
    before = wh.query(replaced)[0]["n"]
    wh.load_folder(last)
    assert wh.query(replaced)[0]["n"] == before + 3
    run_dbt(["run", "-q"])

    # the incremental path was taken: rows of the first build were kept, and only some index rows rematched
    kept = wh.query("select count(distinct loaded_through) as n from intermediate.int_patient_timelines")[0]["n"]
    rematched = wh.query("select count(*) filter (where todo_at = (select max(todo_at) from "
                         "intermediate.int_match_todo)) as new, count(*) as n from intermediate.int_match_todo")[0]
    assert kept == 2
    assert 0 < rematched["new"] < rematched["n"]
    open_spell = wh.query("select count(*) as n from intermediate.int_did_patient as d "
                          "inner join staging.stg_apc__admissions as a on d.patient_key = a.patient_key "
                          "where a.spell_id = 'OPEN-1' and d.measure = 'emergency_bed_days'")[0]["n"]
    assert open_spell > 0, "the patient still in hospital is an eligible index patient"
    contents = _incremental_equals_full()
    assert contents["marts.mart_demand_reduction"], "the marts are not empty"

    # Rows deleted behind the loader's back: audit.raw_writes counts the statement, so everything is rebuilt
    # (the ring's years too, so every index row is rematched).
    from spw import db

    todo = "select max(todo_at) as t, count(distinct todo_at) as n from intermediate.int_match_todo"
    before = wh.query(todo)[0]
    with db.connect("warehouse", autocommit=True) as conn:
        conn.execute("delete from raw.gp_appointments where appointment_id in "
                     "(select appointment_id from raw.gp_appointments order by appointment_id limit 25)")
    run_dbt(["run", "-q"])
    after = wh.query(todo)[0]
    assert after["n"] == 1 and after["t"] > before["t"]
    _incremental_equals_full()
