"""Registered population: one chunk of patients at a time, with identities that never collide."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from spw.synth import params as P
from spw.synth.geography import LSOAS_PER_PRACTICE, Geography
from spw.synth.timeline import NEVER, Timeline

DAYS_PER_YEAR = 365.25
MAX_PATIENTS = 10**7  # size of the NHS-number space used below
N_SERVICES = 4  # gp, ae, emergency, elective (activity.SERVICES)


def nhs_numbers(gidx: np.ndarray, seed: int) -> np.ndarray:
    """Valid, unique 10-digit NHS numbers: `9` + 7 scrambled digits + a free digit + check digit.

    The 9xx range is not issued to patients in England, so no real person's number is produced.
    """
    if gidx.size and gidx.max() >= MAX_PATIENTS:
        raise ValueError(f"at most {MAX_PATIENTS} patients")
    s = (gidx.astype(np.int64) * 3_907_213 + (seed * 7_919) % 10**7) % 10**7  # bijection on 0..10^7-1
    digits = [np.full_like(s, 9)] + [(s // 10**k) % 10 for k in range(6, -1, -1)]
    d9 = (s * 7 + gidx) % 10
    partial = sum((10 - i) * d for i, d in enumerate(digits))  # weights 10..3 for digits 1..8
    # A check digit of 10 is invalid: step the free digit (changes the sum by 2, or by -18 from 9 to 0).
    d9 = np.where((partial + 2 * d9) % 11 == 1, (d9 + 1) % 10, d9)
    all_nines = (s == 9_999_999) & (d9 == 9)
    d9 = np.where(all_nines, 8, d9)
    check = (11 - (partial + 2 * d9) % 11) % 11
    number = 9 * 10**9 + s * 100 + d9 * 10 + check
    return number.astype(str).astype(object)


def pseudonyms(gidx: np.ndarray, seed: int) -> np.ndarray:
    """Opaque upstream pseudonyms (25 characters of [A-Za-z0-9])."""
    out = [("P" + hashlib.blake2b(f"{seed}:{g}".encode(), digest_size=12).hexdigest()) for g in gidx.tolist()]
    return np.array(out, dtype=object)


def is_valid_nhs_number(value: str) -> bool:
    if len(value) != 10 or not value.isdigit() or len(set(value)) == 1:
        return False
    check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(value[:9])) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(value[9])


@dataclass
class Patients:
    gidx: np.ndarray
    ident: np.ndarray  # identity strings (object)
    practice: np.ndarray
    age: np.ndarray  # whole years at the start of the period (0 for babies born later)
    yob: np.ndarray
    sex: np.ndarray  # index into SEX_CODES
    ethnic: np.ndarray
    lsoa: np.ndarray  # object, "" when unknown
    imd: np.ndarray  # 1..10, 0 = unknown
    ltc: np.ndarray
    reg_start: np.ndarray  # day numbers
    reg_end: np.ndarray  # last registered day (inclusive), NEVER if still registered
    death: np.ndarray  # day of death, NEVER if alive
    frailty: np.ndarray  # (patients, services): shared x service-specific gamma, mean 1

    def __len__(self) -> int:
        return len(self.gidx)


def _ages(rng: np.random.Generator, n: int) -> np.ndarray:
    band = rng.choice(len(P.AGE_BANDS), size=n, p=P.AGE_BAND_P)
    width = np.asarray(P.AGE_BAND_WIDTH)[band]
    return P.AGE_BANDS[band] + np.floor(rng.random(n) * width).astype(np.int64)


def _ltc(rng: np.random.Generator, age: np.ndarray, imd: np.ndarray) -> np.ndarray:
    dep = np.where(imd > 0, 5.5 - imd, 0.0)
    mean = (0.05 + 2.8 * (age / 85.0) ** 2.2) * (1 + 0.05 * dep)
    return np.minimum(rng.poisson(np.maximum(mean, 0.01)), 30)


def generate(rng: np.random.Generator, first: int, n: int, geo: Geography, tl: Timeline, p: P.SynthParams,
             seed: int, identity: str) -> Patients:
    gidx = np.arange(first, first + n, dtype=np.int64)
    weights = geo.practice_list / geo.practice_list.sum()
    practice = rng.choice(geo.n_practices, size=n, p=weights)
    age = _ages(rng, n)
    sex = rng.choice(len(P.SEX_CODES), size=n, p=P.SEX_P)
    ethnic = rng.choice(len(P.ETHNIC_CODES), size=n, p=np.asarray(P.ETHNIC_P) / sum(P.ETHNIC_P))
    slot = rng.integers(0, LSOAS_PER_PRACTICE, size=n)
    lsoa = geo.lsoa_code[practice, slot]
    imd = geo.lsoa_decile[practice, slot]
    unknown_area = rng.random(n) < 0.02
    lsoa = np.where(unknown_area, "", lsoa).astype(object)
    imd = np.where(unknown_area, 0, imd)

    t0, t1 = tl.first_day, tl.last_day + 1
    birth = t0 - ((age + rng.random(n)) * DAYS_PER_YEAR).astype(np.int64)
    # Registered before the period: some time after birth, at most 30 years before the start.
    earliest = np.maximum(birth, t0 - int(30 * DAYS_PER_YEAR))
    reg_start = earliest + (rng.random(n) * (t0 - earliest)).astype(np.int64)
    joiner = rng.random(n) < p.joiner_share
    join_day = t0 + (rng.random(n) * (t1 - t0)).astype(np.int64)
    reg_start = np.where(joiner, join_day, reg_start)
    newborn = joiner & (rng.random(n) < p.newborn_share_of_joiners)
    birth = np.where(newborn, join_day - rng.integers(0, 60, size=n), birth)
    age = np.where(newborn, 0, age)
    yob = (birth.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970)

    ltc = _ltc(rng, age, imd)
    # Leavers: registration ends at a uniform day after the later of the start and their joining.
    leaver = rng.random(n) < p.leaver_share
    from_day = np.maximum(reg_start, t0)
    leave_day = from_day + (rng.random(n) * np.maximum(t1 - from_day, 1)).astype(np.int64)
    reg_end = np.where(leaver & (leave_day < t1), leave_day, NEVER)
    # Deaths: annual hazard rising with age (close to England's life table) and with LTCs.
    annual = np.minimum(np.exp(-10.4 + 0.094 * age) * np.exp(0.08 * ltc), 0.5)
    wait = rng.exponential(1.0, size=n) / (-np.log1p(-annual)) * DAYS_PER_YEAR
    death_day = from_day + wait.astype(np.int64)
    dies = death_day < np.minimum(reg_end, t1)
    death = np.where(dies, death_day, NEVER)
    reg_end = np.where(dies, death_day, reg_end)

    ident = nhs_numbers(gidx, seed) if identity == "nhs_number" else pseudonyms(gidx, seed)
    shared = rng.gamma(p.frailty_shape, 1.0 / p.frailty_shape, size=(n, 1))
    own = rng.gamma(p.service_frailty_shape, 1.0 / p.service_frailty_shape, size=(n, N_SERVICES))
    frailty = shared * own
    return Patients(gidx, ident, practice, age, yob, sex, ethnic, lsoa, imd, ltc, reg_start, reg_end,
                    death, frailty)


def rows(pt: Patients, geo: Geography, tl: Timeline) -> list[np.ndarray]:
    """Columns of the `patients` file in contract order."""
    def opt_date(days: np.ndarray) -> np.ndarray:
        out = np.full(len(days), "", dtype=object)
        has = days < NEVER
        out[has] = tl.iso(days[has])
        return out

    return [
        pt.ident,
        np.asarray(geo.practice_code, dtype=object)[pt.practice],
        pt.yob.astype(str),
        np.asarray(P.SEX_CODES, dtype=object)[pt.sex],
        np.asarray(P.ETHNIC_CODES, dtype=object)[pt.ethnic],
        pt.lsoa,
        np.where(pt.imd > 0, pt.imd.astype(str), "").astype(object),
        pt.ltc.astype(str),
        tl.iso(pt.reg_start),
        opt_date(pt.reg_end),
        opt_date(pt.death),
    ]
