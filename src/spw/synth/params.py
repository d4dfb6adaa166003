"""Code sets of the data contract and the generator's tunable rates.

Rates are per person-year before the age/LTC/deprivation multipliers; `calibrate` rescales them so that
the average over a reference population hits the national targets below.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# --- contract code sets (exact strings) ---------------------------------------------------------------
SEX_CODES = ("1", "2", "9", "X")
SEX_P = (0.493, 0.497, 0.001, 0.009)
ETHNIC_CODES = ("A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S", "Z", "99")
ETHNIC_P = (0.70, 0.02, 0.05, 0.008, 0.004, 0.01, 0.008, 0.03, 0.028, 0.012, 0.015, 0.018, 0.01, 0.006,
            0.007, 0.015, 0.039, 0.02)

APPT_STATUS = ("Attended", "DNA", "Unknown")
HCP_TYPES = ("GP", "Other Practice staff", "Unknown")
HCP_P = (0.48, 0.47, 0.05)
APPT_MODES = ("Face-to-Face", "Telephone", "Home Visit", "Video Conference/Online", "Unknown")
MODE_P_UNDER_80 = (0.665, 0.29, 0.002, 0.018, 0.025)
MODE_P_80_PLUS = (0.60, 0.29, 0.07, 0.01, 0.03)
HOME_VISIT = 2
UNKNOWN_MODE = 4
NATIONAL_CATEGORIES = (
    "General Consultation Routine", "General Consultation Acute", "Clinical Triage", "Planned Clinics",
    "Planned Clinical Procedure", "Unplanned Clinical Activity", "Structured Medication Review",
    "Walk-in", "Care Home Visit", "Unmapped", "Home Visit", "Social Prescribing Service", "",
)
NATCAT_P = (0.33, 0.18, 0.10, 0.12, 0.11, 0.04, 0.02, 0.01, 0.01, 0.03, 0.0, 0.0, 0.05)
NATCAT_HOME_VISIT = NATIONAL_CATEGORIES.index("Home Visit")
SOCIAL_PRESCRIBING = "Social Prescribing Service"
BOOK_TO_APPT = ("Same Day", "1 Day", "2 to 7 Days", "8  to 14 Days", "15  to 21 Days", "22  to 28 Days",
                "More than 28 Days", "Unknown / Data Quality")
BOOK_P = (0.44, 0.08, 0.20, 0.11, 0.06, 0.04, 0.06, 0.01)
UNKNOWN_BOOKING = 7

EC_DEPT_TYPES = ("01", "02", "03", "04", "05")
EC_DEPT_P = (0.70, 0.01, 0.24, 0.01, 0.04)
ADMITTED_SNOMED = ("306706006", "1066361000000104", "1066391000000105", "1066371000000106",
                   "1066381000000108", "1066401000000108")
ADMITTED_P = (0.80, 0.06, 0.05, 0.04, 0.03, 0.02)
# Not admitted: discharged home / to residential home / to nursing home, or left empty.
OTHER_DESTINATIONS = ("306689006", "306691003", "306694006", "")
OTHER_DEST_P = (0.88, 0.02, 0.02, 0.08)

EMERGENCY_METHODS = ("21", "22", "23", "24", "25", "2A", "2B", "2C", "2D", "28")
EMERGENCY_METHOD_P = (0.70, 0.08, 0.01, 0.03, 0.01, 0.08, 0.03, 0.005, 0.035, 0.01)
ELECTIVE_METHODS = ("11", "12", "13")
ELECTIVE_METHOD_P = (0.60, 0.30, 0.10)
# Maternity and transfers exist in SUS too: neither emergency nor elective.
OTHER_METHODS = ("31", "32", "81")

REFERRAL_SOURCES = ("gp", "practice_staff", "pharmacy", "mdt", "hospital_discharge", "ahp", "fire_service",
                    "police", "job_centre", "social_care", "housing", "vcse", "self", "other")
REFERRAL_SOURCE_P = (0.42, 0.14, 0.02, 0.06, 0.04, 0.03, 0.005, 0.005, 0.01, 0.06, 0.02, 0.06, 0.1, 0.03)
REFERRAL_REASONS = ("loneliness_isolation", "mental_health", "long_term_condition", "physical_inactivity",
                    "financial_debt", "housing", "employment", "carer_support", "bereavement", "other")
REFERRAL_REASON_P = (0.25, 0.22, 0.14, 0.08, 0.09, 0.06, 0.04, 0.05, 0.04, 0.03)
ACTIVITIES = ("arts", "nature", "physical_activity", "befriending", "advice_debt", "advice_housing",
              "advice_welfare", "learning", "volunteering", "peer_support", "counselling", "other")
ACTIVITY_P = (0.08, 0.08, 0.14, 0.14, 0.08, 0.05, 0.1, 0.05, 0.06, 0.11, 0.08, 0.03)
OUTCOMES = ("engaged", "ongoing", "declined", "did_not_engage", "referred_back")
ENGAGED_OUTCOMES = ("engaged", "ongoing")

ONS4_ITEMS = ("life_satisfaction", "worthwhile", "happy", "anxious")

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
