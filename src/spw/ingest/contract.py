"""The landing data contract (v1) as data: sources, columns, types, rules, code sets and record keys.

Everything the loader, the schema and the Great Expectations suites know about a source comes from
here, so a change to the contract is a change to this file only. See docs/data-contract.md.
"""

from __future__ import annotations

from dataclasses import dataclass

# Identity columns of person-level sources (exactly one per file) and what replaces them in raw.
NHS_NUMBER = "nhs_number"
PSEUDO_NHS_NUMBER = "pseudo_nhs_number"
IDENTITY_COLUMNS = (NHS_NUMBER, PSEUDO_NHS_NUMBER)
PATIENT_KEY = "patient_key"

# Lowest date any date column may hold; the highest is the load date.
MIN_DATE = "1900-01-01"

# Type names of the contract and their PostgreSQL column types in raw.
PG_TYPES = {"text": "text", "date": "date", "int": "integer", "decimal": "numeric"}
INT4_MAX = 2_147_483_647
# What an unconstrained PostgreSQL numeric holds: digits before the point (leading zeros aside) and
# after it (trailing zeros included). A longer value would fail the whole COPY, so it is a row error.
NUMERIC_MAX_WHOLE_DIGITS = 131_072
NUMERIC_MAX_FRACTION_DIGITS = 16_383

# Sentinel for "the year of the load date" (patients.year_of_birth upper bound).
LOAD_YEAR = "load_year"

# Rule names written to audit.rejected_rows.rule.
RULE_REQUIRED = "required"
RULE_FIELD_COUNT = "field_count"
RULE_DATE_FORMAT = "date_format"
RULE_DATE_RANGE = "date_range"
RULE_FIRST_OF_MONTH = "first_of_month"
RULE_INT_FORMAT = "int_format"
RULE_DECIMAL_FORMAT = "decimal_format"
RULE_RANGE = "range"
RULE_PATTERN = "pattern"
RULE_CODE_SET = "code_set"
RULE_NHS_FORMAT = "nhs_number_format"
RULE_NHS_CHECK_DIGIT = "nhs_number_check_digit"
RULE_NHS_ONE_DIGIT = "nhs_number_all_one_digit"
RULE_PSEUDO_FORMAT = "pseudo_nhs_number_format"
RULE_ORDER = "order"
RULE_DEPENDENT_CODE = "code_set_for"
RULE_DEPENDENT_RANGE = "range_for"
RULE_NHS_IN_TEXT = "nhs_number_in_text"

PRACTICE_CODE = r"^[A-Z][0-9]{5}$"
PCN_CODE = r"^U[0-9]{5}$"
ORG_CODE = r"^[A-Z0-9]{3,5}$"
PSEUDO_PATTERN = r"^[A-Za-z0-9_-]{8,128}$"


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "text"  # text | date | int | decimal
    required: bool = False
    pattern: str | None = None  # regular expression the whole value must match
    codes: frozenset[str] | None = None  # value must be one of these, exactly
    list_codes: frozenset[str] | None = None  # `;`-separated, every element one of these
    min: float | None = None
    max: float | str | None = None  # a number, or LOAD_YEAR
    first_of_month: bool = False
    default: str | None = None  # stored when the field is empty or the column absent
    free_text: bool = False  # descriptive text: a clear NHS number in it is a row error
    description: str = ""

    @property
    def pg_type(self) -> str:
        return PG_TYPES[self.type]


@dataclass(frozen=True)
class OrderRule:
    """`later` must be on or after `earlier` when both are present."""

    later: str
    earlier: str


@dataclass(frozen=True)
class DependentCodes:
    """`column` must be one of `codes[row[on]]` (e.g. the items of an instrument)."""

    column: str
    on: str
    codes: dict[str, frozenset[str]]


@dataclass(frozen=True)
class DependentRange:
    """`column` must lie in `ranges[row[on]]` (inclusive)."""

    column: str
    on: str
    ranges: dict[str, tuple[float, float]]


@dataclass(frozen=True)
class Source:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # record key in raw (identity already replaced by patient_key)
    person_level: bool = False
    order_rules: tuple[OrderRule, ...] = ()
    dependent_codes: tuple[DependentCodes, ...] = ()
    dependent_ranges: tuple[DependentRange, ...] = ()
    description: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def raw_columns(self) -> tuple[tuple[str, str], ...]:
        """(name, pg type) of raw.<source> data columns, patient_key first for person-level sources."""
        cols = [(c.name, c.pg_type) for c in self.columns]
        if self.person_level:
            cols.insert(0, (PATIENT_KEY, "text"))
        return tuple(cols)

    @property
    def accepted_columns(self) -> frozenset[str]:
        """Header names this source understands (anything else is an ignored extra column)."""
        names = set(self.column_names)
        if self.person_level:
            names.update(IDENTITY_COLUMNS)
        return frozenset(names)


def _codes(*values: str) -> frozenset[str]:
    return frozenset(values)


REGIONS = {
    "Y56": "London",
    "Y58": "South West",
    "Y59": "South East",
    "Y60": "Midlands",
    "Y61": "East of England",
    "Y62": "North West",
    "Y63": "North East and Yorkshire",
}
SEX_CODES = _codes("1", "2", "9", "X")
ETHNIC_CATEGORIES = _codes(*"ABCDEFGHJKLMNPRSZ", "99")
REFERRAL_SOURCES = _codes(
    "gp", "practice_staff", "pharmacy", "mdt", "hospital_discharge", "ahp", "fire_service", "police",
    "job_centre", "social_care", "housing", "vcse", "self", "other",
)
REFERRAL_REASONS = _codes(
    "loneliness_isolation", "mental_health", "long_term_condition", "physical_inactivity", "financial_debt",
    "housing", "employment", "carer_support", "bereavement", "other",
)
OUTCOMES = _codes("engaged", "ongoing", "declined", "did_not_engage", "referred_back")
ACTIVITIES = _codes(
    "arts", "nature", "physical_activity", "befriending", "advice_debt", "advice_housing", "advice_welfare",
    "learning", "volunteering", "peer_support", "counselling", "other",
)
ASSESSMENT_TYPES = _codes("baseline", "follow_up")
INSTRUMENTS = _codes("ONS4", "SWEMWBS", "WEMWBS")
ONS4_ITEMS = _codes("life_satisfaction", "worthwhile", "happy", "anxious")
INSTRUMENT_ITEMS = {"ONS4": ONS4_ITEMS, "SWEMWBS": _codes("total"), "WEMWBS": _codes("total")}
INSTRUMENT_RANGES = {"ONS4": (0.0, 10.0), "SWEMWBS": (7.0, 35.0), "WEMWBS": (14.0, 70.0)}
ALL_ITEMS = frozenset().union(*INSTRUMENT_ITEMS.values())
APPT_STATUS = _codes("Attended", "DNA", "Unknown")
HCP_TYPES = _codes("GP", "Other Practice staff", "Unknown")
APPT_MODES = _codes("Face-to-Face", "Telephone", "Home Visit", "Video Conference/Online", "Unknown")
# Published GPAD strings, including their double spaces.
BOOK_TO_APPT = _codes(
    "Same Day", "1 Day", "2 to 7 Days", "8  to 14 Days", "15  to 21 Days", "22  to 28 Days",
    "More than 28 Days", "Unknown / Data Quality",
)
EC_DEPARTMENT_TYPES = _codes("01", "02", "03", "04", "05")
ADMISSION_METHODS = _codes(
    "11", "12", "13", "21", "22", "23", "24", "25", "2A", "2B", "2C", "2D", "28", "31", "32", "81", "82",
    "83", "98", "99",
)
# Admitted-from-A&E discharge destinations (SNOMED CT): the warehouse's ae_admitted and the synthetic
# generator's admitted attendances (spw.synth.params) both read this list.
ADMITTED_DESTINATIONS = _codes(
    "306706006", "1066361000000104", "1066391000000105", "1066371000000106", "1066381000000108",
    "1066401000000108",
)
FUNDING = _codes("ARRS", "other")


SOURCES: dict[str, Source] = {}


def _add(source: Source) -> None:
    SOURCES[source.name] = source


_add(Source(
    name="practices",
    description="Reference: ODS hierarchy of GP practices, PCNs, sub-ICBs, ICBs and regions.",
    key=("practice_code", "effective_from"),
    columns=(
        Column("practice_code", required=True, pattern=PRACTICE_CODE),
        Column("practice_name", free_text=True),
        Column("pcn_code", required=True, pattern=PCN_CODE),
        Column("pcn_name", free_text=True),
        Column("sub_icb_code", required=True, pattern=r"^[0-9A-Z]{3}$"),
        Column("sub_icb_name", free_text=True),
        Column("icb_code", required=True, pattern=r"^Q[A-Z0-9]{2}$"),
        Column("icb_name", free_text=True),
        Column("region_code", required=True, codes=frozenset(REGIONS)),
        Column("region_name", free_text=True),
        Column("list_size", "int", required=True, min=0),
        Column("effective_from", "date"),
        Column("effective_to", "date"),
    ),
))

_add(Source(
    name="link_worker_workforce",
    description="Link workers in post per PCN and month.",
    key=("pcn_code", "month", "funding"),
    columns=(
        Column("pcn_code", required=True, pattern=PCN_CODE),
        Column("month", "date", required=True, first_of_month=True),
        Column("wte", "decimal", required=True, min=0),
        Column("headcount", "int", min=0),
        Column("funding", codes=FUNDING, default="ARRS"),
    ),
))

_add(Source(
    name="patients",
    description="Registered population.",
    key=(PATIENT_KEY,),
    person_level=True,
    order_rules=(OrderRule("registration_end_date", "registration_start_date"),),
    columns=(
        Column("practice_code", required=True, pattern=PRACTICE_CODE),
        Column("year_of_birth", "int", required=True, min=1900, max=LOAD_YEAR),
        Column("sex", required=True, codes=SEX_CODES),
        Column("ethnic_category", codes=ETHNIC_CATEGORIES),
        Column("lsoa_code", pattern=r"^E01[0-9]{6}$"),
        Column("imd_decile", "int", min=1, max=10),
        Column("ltc_count", "int", min=0, max=30),
        Column("registration_start_date", "date", required=True),
        Column("registration_end_date", "date"),
        Column("date_of_death", "date"),
    ),
))

_add(Source(
    name="sp_referrals",
    description="Social prescribing referrals from the link-worker case management system.",
    key=("referral_id",),
    person_level=True,
    order_rules=(
        OrderRule("first_contact_date", "referral_date"),
        OrderRule("discharge_date", "referral_date"),
    ),
    columns=(
        Column("referral_id", required=True),
        Column("referral_date", "date", required=True),
        Column("referral_source", required=True, codes=REFERRAL_SOURCES),
        Column("referring_practice_code", pattern=PRACTICE_CODE),
        Column("pcn_code"),
        Column("link_worker_id"),
        Column("referral_reasons", list_codes=REFERRAL_REASONS),
        Column("outcome", required=True, codes=OUTCOMES),
        Column("first_contact_date", "date"),
        Column("discharge_date", "date"),
        Column("contacts_count", "int", min=0, max=200),
        Column("activities", list_codes=ACTIVITIES),
    ),
))

_add(Source(
    name="sp_wellbeing",
    description="Wellbeing assessments, one row per instrument item.",
    key=("assessment_id",),
    dependent_codes=(DependentCodes("item", "instrument", INSTRUMENT_ITEMS),),
    dependent_ranges=(DependentRange("score", "instrument", INSTRUMENT_RANGES),),
    columns=(
        Column("assessment_id", required=True),
        Column("referral_id", required=True),
        Column("assessment_date", "date", required=True),
        Column("assessment_type", required=True, codes=ASSESSMENT_TYPES),
        Column("instrument", required=True, codes=INSTRUMENTS),
        Column("item", required=True, codes=ALL_ITEMS),
        # The range depends on the instrument; the widest bounds catch anything impossible for all.
        Column("score", "decimal", required=True, min=0, max=70),
    ),
))

_add(Source(
    name="gp_appointments",
    description="Patient-level GP system extract in GPAD categories.",
    key=("appointment_id",),
    person_level=True,
    columns=(
        Column("appointment_id", required=True),
        Column("practice_code", required=True, pattern=PRACTICE_CODE),
        Column("appointment_date", "date", required=True),
        Column("appt_status", required=True, codes=APPT_STATUS),
        Column("hcp_type", required=True, codes=HCP_TYPES),
        Column("appt_mode", required=True, codes=APPT_MODES),
        Column("national_category", free_text=True),
        Column("time_between_book_and_appt", codes=BOOK_TO_APPT),
    ),
))

_add(Source(
    name="ae_attendances",
    description="A&E attendances (ECDS).",
    key=("ec_ident",),
    person_level=True,
    columns=(
        Column("ec_ident", required=True),
        Column("provider_code", required=True, pattern=ORG_CODE),
        Column("arrival_date", "date", required=True),
        Column("ec_department_type", required=True, codes=EC_DEPARTMENT_TYPES),
        Column("discharge_destination_snomed", pattern=r"^[0-9]{6,18}$"),
    ),
))

_add(Source(
    name="inpatient_admissions",
    description="Inpatient spells (SUS/HES APC).",
    key=("spell_id",),
    person_level=True,
    order_rules=(OrderRule("discharge_date", "admission_date"),),
    columns=(
        Column("spell_id", required=True),
        Column("provider_code", required=True, pattern=ORG_CODE),
        Column("admission_date", "date", required=True),
        Column("discharge_date", "date"),
        Column("admission_method", required=True, codes=ADMISSION_METHODS),
    ),
))

# Processing order: reference data first, then population, then activity.
SOURCE_NAMES: tuple[str, ...] = tuple(SOURCES)


def get_source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}: one of {', '.join(SOURCE_NAMES)}") from None


@dataclass(frozen=True)
class Ledger:
    """Columns of the audit tables, exactly as the contract names them."""

    file_loads: tuple[str, ...] = (
        "source", "file_name", "sha256", "bytes", "rows_read", "rows_loaded", "rows_rejected", "status",
        "reason", "warnings", "started_at", "finished_at", "run_id",
    )
    rejected_rows: tuple[str, ...] = (
        "source", "file_name", "sha256", "line_number", "column_name", "rule", "value",
    )


LEDGER = Ledger()
