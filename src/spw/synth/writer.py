"""Landing-folder writer: contract headers, one CSV per delivery, rows appended chunk by chunk."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from spw.errors import SpwError

IDENTITY = "@identity"  # placeholder replaced by nhs_number or pseudo_nhs_number

HEADERS: dict[str, tuple[str, ...]] = {
    "practices": ("practice_code", "practice_name", "pcn_code", "pcn_name", "sub_icb_code", "sub_icb_name",
                  "icb_code", "icb_name", "region_code", "region_name", "list_size", "effective_from",
                  "effective_to"),
    "link_worker_workforce": ("pcn_code", "month", "wte", "headcount", "funding"),
    "patients": (IDENTITY, "practice_code", "year_of_birth", "sex", "ethnic_category", "lsoa_code",
                 "imd_decile", "ltc_count", "registration_start_date", "registration_end_date",
                 "date_of_death"),
    "sp_referrals": ("referral_id", IDENTITY, "referral_date", "referral_source", "referring_practice_code",
                     "pcn_code", "link_worker_id", "referral_reasons", "outcome", "first_contact_date",
                     "discharge_date", "contacts_count", "activities"),
    "sp_wellbeing": ("assessment_id", "referral_id", "assessment_date", "assessment_type", "instrument",
                     "item", "score"),
    "gp_appointments": ("appointment_id", IDENTITY, "practice_code", "appointment_date", "appt_status",
                        "hcp_type", "appt_mode", "national_category", "time_between_book_and_appt"),
    "ae_attendances": ("ec_ident", IDENTITY, "provider_code", "arrival_date", "ec_department_type",
                       "discharge_destination_snomed"),
    "inpatient_admissions": ("spell_id", IDENTITY, "provider_code", "admission_date", "discharge_date",
                             "admission_method"),
}
SOURCES = tuple(HEADERS)
TRUTH_FILE = "truth.json"
TRUTH_PATIENTS = "truth_patients"  # per-patient truth beside truth.json, outside every source folder


class TargetExists(SpwError, FileExistsError):
    """The output folder already holds generated sources (refused unless overwrite is asked for)."""


def header(source: str, identity: str) -> list[str]:
    return [identity if c == IDENTITY else c for c in HEADERS[source]]


class Landing:
    """Appends rows to `<out>/<source>/<name>.csv`; files are created with their header up front."""

    def __init__(self, out: Path, identity: str, overwrite: bool = False) -> None:
        self.out = out
        self.identity = identity
        self.rows: dict[str, int] = {s: 0 for s in (*SOURCES, TRUTH_PATIENTS)}
        self.files: set[Path] = set()
        self._prepare(overwrite)

    def _prepare(self, overwrite: bool) -> None:
        own = [self.out / s for s in SOURCES] + [self.out / TRUTH_FILE, self.out / f"{TRUTH_PATIENTS}.csv"]
        present = [p for p in own if p.exists()]
        if present and not overwrite:
            raise TargetExists(f"{present[0]} already exists; choose an empty folder or overwrite")
        for p in present:  # only the generator's own folders and file are removed
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        for s in SOURCES:
            (self.out / s).mkdir(parents=True, exist_ok=True)

    def source_files(self) -> list[Path]:
        return sorted(p for p in self.files if p.parent.name in HEADERS and p.parent.parent == self.out)

    def path(self, source: str, name: str) -> Path:
        """`<out>/<source>/<name>.csv`; an empty name means `<out>/<source>.csv` (files beside the sources)."""
        return self.out / f"{source}.csv" if not name else self.out / source / f"{name}.csv"

    def create(self, source: str, name: str, columns: list[str] | None = None) -> None:
        p = self.path(source, name)
        with p.open("w", encoding="utf-8", newline="") as f:
            f.write(",".join(columns or header(source, self.identity)) + "\n")
        self.files.add(p)

    def append_columns(self, source: str, name: str, columns: Sequence[Sequence[str] | np.ndarray]) -> None:
        """Fast path for generated values that never need CSV quoting (codes, ids, dates, numbers)."""
        cols = [c.tolist() if isinstance(c, np.ndarray) else list(c) for c in columns]
        if not cols or not cols[0]:
            return
        if self.path(source, name) not in self.files:
            # Created on first rows: identical header-only files would share a sha256 (a "duplicate").
            self.create(source, name)
        lines = map(",".join, zip(*cols, strict=True))
        with self.path(source, name).open("a", encoding="utf-8", newline="") as f:
            f.write("\n".join(lines))
            f.write("\n")
        self.rows[source] += len(cols[0])

    def write_dicts(self, source: str, name: str, rows: list[dict]) -> None:
        """Small reference files through the csv module (names may need quoting)."""
        p = self.path(source, name)
        with p.open("w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=header(source, self.identity), lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        self.files.add(p)
        self.rows[source] += len(rows)
