"""Code sets of the data contract and the generator's tunable rates.

Rates are per person-year before the age/LTC/deprivation multipliers; `calibrate` rescales them so that
the average over a reference population hits the national targets below.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from spw.ingest import contract as C


# --- code sets: the strings come from the data contract; the generator adds only weights and order -------
def ordered(codes: frozenset[str], first: tuple[str, ...] = ()) -> tuple[str, ...]:
    """A contract code set as a tuple: `first` (codes whose position the generator relies on), then the rest."""
    unknown = set(first) - codes
    if unknown:
        raise KeyError(f"not in the contract's code set: {sorted(unknown)}")
    return (*first, *sorted(codes - set(first)))


def weighted(codes: frozenset[str], weights: dict[str, float]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Codes of a contract set with their drawing weights (in the weights' order; codes without one get 0)."""
    table = ordered(codes, tuple(weights))
    return table, tuple(weights.get(c, 0.0) for c in table)


SEX_CODES, SEX_P = weighted(C.SEX_CODES, {"1": 0.493, "2": 0.497, "9": 0.001, "X": 0.009})
ETHNIC_CODES, ETHNIC_P = weighted(C.ETHNIC_CATEGORIES, {
    "A": 0.70, "B": 0.02, "C": 0.05, "D": 0.008, "E": 0.004, "F": 0.01, "G": 0.008, "H": 0.03, "J": 0.028,
    "K": 0.012, "L": 0.015, "M": 0.018, "N": 0.01, "P": 0.006, "R": 0.007, "S": 0.015, "Z": 0.039, "99": 0.02})

APPT_STATUS = ordered(C.APPT_STATUS, ("Attended", "DNA", "Unknown"))  # positions 0, 1, 2 are used by name
HCP_TYPES, HCP_P = weighted(C.HCP_TYPES, {"GP": 0.48, "Other Practice staff": 0.47, "Unknown": 0.05})
APPT_MODES, MODE_P_UNDER_80 = weighted(C.APPT_MODES, {
    "Face-to-Face": 0.665, "Telephone": 0.29, "Home Visit": 0.002, "Video Conference/Online": 0.018,
    "Unknown": 0.025})
MODE_P_80_PLUS = weighted(C.APPT_MODES, {
    "Face-to-Face": 0.60, "Telephone": 0.29, "Home Visit": 0.07, "Video Conference/Online": 0.01, "Unknown": 0.03})[1]
# Link-worker contacts booked in the GP system: face to face or by telephone, some online.
SPS_MODE_P = weighted(C.APPT_MODES, dict.fromkeys(APPT_MODES, 0.0)
                      | {"Face-to-Face": 0.55, "Telephone": 0.4, "Video Conference/Online": 0.05})[1]
HOME_VISIT = APPT_MODES.index("Home Visit")
UNKNOWN_MODE = APPT_MODES.index("Unknown")
# national_category is free text in the contract (GPAD's categories), so the generator keeps its own list.
NATIONAL_CATEGORIES = (
    "General Consultation Routine", "General Consultation Acute", "Clinical Triage", "Planned Clinics",
    "Planned Clinical Procedure", "Unplanned Clinical Activity", "Structured Medication Review",
    "Walk-in", "Care Home Visit", "Unmapped", "Home Visit", "Social Prescribing Service", "",
)
NATCAT_P = (0.33, 0.18, 0.10, 0.12, 0.11, 0.04, 0.02, 0.01, 0.01, 0.03, 0.0, 0.0, 0.05)
NATCAT_HOME_VISIT = NATIONAL_CATEGORIES.index("Home Visit")
SOCIAL_PRESCRIBING = "Social Prescribing Service"
BOOK_TO_APPT, BOOK_P = weighted(C.BOOK_TO_APPT, {
    "Same Day": 0.44, "1 Day": 0.08, "2 to 7 Days": 0.20, "8  to 14 Days": 0.11, "15  to 21 Days": 0.06,
    "22  to 28 Days": 0.04, "More than 28 Days": 0.06, "Unknown / Data Quality": 0.01})
SPS_BOOK_P = weighted(C.BOOK_TO_APPT, dict(zip(BOOK_TO_APPT, (0.1, 0.1, 0.5, 0.2, 0.05, 0.02, 0.02, 0.01),
                                               strict=True)))[1]
UNKNOWN_BOOKING = BOOK_TO_APPT.index("Unknown / Data Quality")

EC_DEPT_TYPES, EC_DEPT_P = weighted(C.EC_DEPARTMENT_TYPES, {"01": 0.70, "02": 0.01, "03": 0.24, "04": 0.01,
                                                           "05": 0.04})
ADMITTED_SNOMED, ADMITTED_P = weighted(C.ADMITTED_DESTINATIONS, {
    "306706006": 0.80, "1066361000000104": 0.06, "1066391000000105": 0.05, "1066371000000106": 0.04,
    "1066381000000108": 0.03, "1066401000000108": 0.02})
# Not admitted: discharged home / to residential home / to nursing home, or left empty (outside the
# contract's admitted set, which is all it names).
OTHER_DESTINATIONS = ("306689006", "306691003", "306694006", "")
OTHER_DEST_P = (0.88, 0.02, 0.02, 0.08)

# Emergency admission methods start with 2, elective with 1 (methods §2); both are contract codes.
EMERGENCY_METHODS, EMERGENCY_METHOD_P = weighted(frozenset(c for c in C.ADMISSION_METHODS if c[0] == "2"), {
    "21": 0.70, "22": 0.08, "23": 0.01, "24": 0.03, "25": 0.01, "2A": 0.08, "2B": 0.03, "2C": 0.005, "2D": 0.035,
    "28": 0.01})
ELECTIVE_METHODS, ELECTIVE_METHOD_P = weighted(frozenset(c for c in C.ADMISSION_METHODS if c[0] == "1"),
                                               {"11": 0.60, "12": 0.30, "13": 0.10})

REFERRAL_SOURCES, REFERRAL_SOURCE_P = weighted(C.REFERRAL_SOURCES, {
    "gp": 0.42, "practice_staff": 0.14, "pharmacy": 0.02, "mdt": 0.06, "hospital_discharge": 0.04, "ahp": 0.03,
    "fire_service": 0.005, "police": 0.005, "job_centre": 0.01, "social_care": 0.06, "housing": 0.02,
    "vcse": 0.06, "self": 0.1, "other": 0.03})
PRACTICE_SOURCES = tuple(REFERRAL_SOURCES.index(c) for c in ("gp", "practice_staff", "pharmacy", "mdt"))
REFERRAL_REASONS, REFERRAL_REASON_P = weighted(C.REFERRAL_REASONS, {
    "loneliness_isolation": 0.25, "mental_health": 0.22, "long_term_condition": 0.14, "physical_inactivity": 0.08,
    "financial_debt": 0.09, "housing": 0.06, "employment": 0.04, "carer_support": 0.05, "bereavement": 0.04,
    "other": 0.03})
ACTIVITIES, ACTIVITY_P = weighted(C.ACTIVITIES, {
    "arts": 0.08, "nature": 0.08, "physical_activity": 0.14, "befriending": 0.14, "advice_debt": 0.08,
    "advice_housing": 0.05, "advice_welfare": 0.1, "learning": 0.05, "volunteering": 0.06, "peer_support": 0.11,
    "counselling": 0.08, "other": 0.03})
# Positions 0..4 are used by name in activity.referral_details.
OUTCOMES = ordered(C.OUTCOMES, ("engaged", "ongoing", "declined", "did_not_engage", "referred_back"))
# Item order matters: each item has its own mean and slope in outputs.sp_wellbeing.
ONS4_ITEMS = ordered(C.ONS4_ITEMS, ("life_satisfaction", "worthwhile", "happy", "anxious"))

# Age bands used by every rate table: lower bounds.
AGE_BANDS = np.array([0, 5, 15, 25, 45, 65, 75, 85])
AGE_BAND_P = (0.054, 0.12, 0.115, 0.265, 0.26, 0.10, 0.065, 0.021)  # share of the population
AGE_BAND_WIDTH = (5, 10, 10, 20, 20, 10, 10, 15)


@dataclass(frozen=True)
class Rates:
    """Relative rate by age band (AGE_BANDS), per-LTC log-multiplier, per-decile deprivation slope."""

    by_age: tuple[float, ...]
    ltc_log: float
    imd_slope: float  # multiplier 1 + slope * (5.5 - imd_decile)
    winter: float  # seasonal amplitude, peak in January
    episode_mult: float  # multiplier while an episode of raised need lasts


@dataclass(frozen=True)
class SynthParams:
    # National targets, events per person-year (practice appointments exclude social prescribing).
    target_practice_appointments: float = 5.6
    target_ae: float = 0.35
    target_emergency: float = 0.105
    target_elective: float = 0.12
    gp: Rates = Rates((1.3, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 2.4), 0.12, 0.04, 0.08, 7.0)
    ae: Rates = Rates((1.5, 0.7, 1.2, 0.9, 0.8, 1.0, 1.5, 2.5), 0.10, 0.08, 0.05, 5.0)
    emergency: Rates = Rates((0.8, 0.2, 0.4, 0.5, 0.8, 1.6, 3.0, 5.5), 0.16, 0.07, 0.12, 6.0)
    elective: Rates = Rates((0.3, 0.2, 0.4, 0.6, 1.0, 2.0, 2.4, 2.0), 0.08, 0.0, 0.0, 1.0)
    # Persistent heterogeneity (high users): a gamma frailty shared by all services times one per service.
    frailty_shape: float = 20.0
    service_frailty_shape: float = 3.5
    # Episodes of transiently raised need: monthly onset probability and mean length (months); a length
    # of 1 makes episode months independent, so nothing carries over past a referral (matching can work).
    episode_onset: float = 0.04
    episode_months: float = 1.0
    # Registration dynamics over the period.
    joiner_share: float = 0.14
    newborn_share_of_joiners: float = 0.2
    leaver_share: float = 0.11
    # Social prescribing service: first months of the period are a lead-in without referrals.
    lead_in_months: int = 12
    referral_rate: float = 0.02  # per adult person-year at average recent use
    referral_use_power: float = 1.5
    referral_lookback_months: int = 3
    # Recent use = GP appointments + w_ae x A&E attendances + w_em x emergency admissions.
    referral_weight_ae: float = 3.0
    referral_weight_emergency: float = 8.0
    engage_p: float = 0.6
    # Log-odds of engaging per unit of log frailty (mean log of the patient's service frailties): > 0
    # means high users engage more, so the engaged differ from the referred in need.
    engage_frailty_slope: float = 0.0
    rereferral_p: float = 0.1
    # Planted effect: multipliers on the rate while engaged (12 months from the index referral).
    effect_months: int = 12
    effect_gp: float = 0.70
    effect_ae: float = 0.75
    effect_emergency: float = 0.70
    # Scales every planted effect: 0 plants no effect at all, 1 the multipliers above.
    effect_scale: float = 1.0
    # Practice random effects: SD of a log-normal multiplier per practice, and of one per practice-month,
    # on every service's rate (shared by the practice's patients, so their counts are correlated).
    practice_sd: float = 0.0
    practice_month_sd: float = 0.0
    # Use-dependent death and leaving: an extra monthly exit hazard of `exit_rate` per person-year at typical
    # recent use, times ((1 + recent use) / (1 + typical)) ** exit_use_power; 0 leaves exits as drawn above.
    exit_rate: float = 0.0
    exit_use_power: float = 1.5
    exit_death_share: float = 0.5
    # Patients per chunk: bounds memory; fixed, because the random streams are per chunk.
    chunk_size: int = 25_000

    def as_dict(self) -> dict:
        return asdict(self)

    def multiplier(self, service: str) -> float:
        """Rate multiplier while engaged for a targeted service, after `effect_scale`."""
        planted = {"gp": self.effect_gp, "ae": self.effect_ae, "emergency": self.effect_emergency}[service]
        return 1.0 - self.effect_scale * (1.0 - planted)


def age_band(age: np.ndarray) -> np.ndarray:
    return np.searchsorted(AGE_BANDS, age, side="right") - 1


def relative_rate(r: Rates, age: np.ndarray, ltc: np.ndarray, imd: np.ndarray) -> np.ndarray:
    """Patient multiplier for one service (imd 0 = unknown, treated as average)."""
    dep = np.where(imd > 0, 5.5 - imd, 0.0)
    return np.asarray(r.by_age)[age_band(age)] * np.exp(r.ltc_log * ltc) * (1.0 + r.imd_slope * dep)


def seasonal(r: Rates, month_numbers: np.ndarray) -> np.ndarray:
    return 1.0 + r.winter * np.cos(2 * np.pi * (month_numbers - 1) / 12)


def stationary_episode_share(p: SynthParams) -> float:
    if p.episode_months <= 1:
        return p.episode_onset
    off = 1.0 / p.episode_months
    return p.episode_onset / (p.episode_onset + off)
