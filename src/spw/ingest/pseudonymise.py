"""Identity handling: NHS number validation, keyed pseudonymisation and masking.

patient_key = hex HMAC-SHA256(key, value) where value is the NHS number, or `pseudo:` + the upstream
pseudonym. The key comes from spw.secrets (environment or the git-ignored secrets folder), never from
the database. `mask_nhs` is applied to every string the loader writes to the ledger or a log.
"""

from __future__ import annotations

import hashlib
import re
from operator import mul

from spw.ingest.contract import RULE_NHS_CHECK_DIGIT, RULE_NHS_FORMAT, RULE_NHS_ONE_DIGIT
from spw.secrets import pseudonymisation_key

PSEUDO_PREFIX = "pseudo:"
TOKEN_PREFIX = "opaque:"  # never the start of an identity, nor of a pseudonym's "pseudo:"
_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
_WEIGHT_SUM = sum(_WEIGHTS)
_BLOCK = 64  # SHA-256 block size in bytes
# What people put between the groups of a written NHS number: any Unicode white space (NBSP, thin and
# other spaces included), `/`, `_`, `.`, hyphen-minus, the Unicode hyphens and dashes U+2010-U+2015,
# the minus sign, small and full-width hyphen-minus, soft hyphen and zero-width space.
_SEP = r"[\s/_.\-\u00ad\u200b\u2010-\u2015\u2212\ufe58\ufe63\uff0d]"
# Ten digits (any Unicode decimal digits) grouped 3-3-4 with up to three separator characters between
# groups, or run together, not part of a longer digit run. Detection and masking share this pattern,
# so a form the detector accepts can never escape the mask.
_NHS_GROUPED = rf"\d{{3}}{_SEP}{{0,3}}\d{{3}}{_SEP}{{0,3}}\d{{4}}"
_NHS_LIKE = re.compile(rf"(?<!\d){_NHS_GROUPED}(?!\d)")
# The same, with at least one separator: a written-out form no identifier scheme produces.
NHS_SPLIT_LIKE = re.compile(rf"(?<!\d)\d{{3}}(?:{_SEP}{{1,3}}\d{{3}}{_SEP}{{0,3}}|\d{{3}}{_SEP}{{1,3}})\d{{4}}(?!\d)")
# Ten ASCII digits run together (the form an identifier may hold by chance).
NHS_PLAIN_LIKE = re.compile(r"(?<![0-9])[0-9]{10}(?![0-9])")
# Runs of ten or more ASCII digits (those of exactly ten are NHS_PLAIN_LIKE's): quicker to find.
DIGIT_RUNS = re.compile(r"[0-9]{10,}")
# Longer runs first: a run of 10 or more digits is masked whole, whatever its grouping.
_MASK = re.compile(rf"(?<!\d)(?:\d{{10,}}|{_NHS_GROUPED})(?!\d)")
_DIGIT = re.compile(r"\d")
_NON_DIGIT = re.compile(r"\D")


def nhs_check_digit(first_nine: str) -> int | None:
    """Modulus-11 check digit of the first nine digits; None when no valid check digit exists (10)."""
    # ASCII codes times weights, minus 48 (code of "0") times the sum of the weights: all in C.
    total = sum(map(mul, first_nine.encode("ascii"), _WEIGHTS)) - 48 * _WEIGHT_SUM
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def nhs_number_error(value: str) -> str | None:
    """None for a valid NHS number, else the name of the rule it breaks."""
    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return RULE_NHS_FORMAT
    if value == value[0] * 10:
        return RULE_NHS_ONE_DIGIT
    if nhs_check_digit(value[:9]) != int(value[9]):
        return RULE_NHS_CHECK_DIGIT
    return None


def nhs_number_from(n: int) -> str | None:
    """The valid NHS number whose first nine digits are n (zero-padded), or None if none exists.

    For synthetic data and tests only; real numbers come from providers.
    """
    first = f"{n:09d}"
    check = nhs_check_digit(first)
    value = None if check is None else first + str(check)
    return value if value is not None and nhs_number_error(value) is None else None


def mask_nhs(text: str | None) -> str | None:
    """Replace with `*` every digit of anything that could hold an NHS number: every form
    contains_nhs_number looks at (10 digits grouped 3-3-4, separators optional), valid or not, and
    any run of 10 or more digits (over-masking is the safe side)."""
    if not text:
        return text
    return _MASK.sub(lambda m: _DIGIT.sub("*", m.group(0)), text)


def nhs_numbers_in(text: str) -> list[tuple[str, bool]]:
    """Every valid NHS number written in the text, as (its ten ASCII digits, whether it is written
    out: separators between the groups or digits other than ASCII), in order."""
    found = []
    for m in _NHS_LIKE.finditer(text):
        written = m.group(0)
        digits = _NON_DIGIT.sub("", written)
        if not digits.isascii():
            digits = "".join(str(int(d)) for d in digits)
        if nhs_number_error(digits) is None:
            found.append((digits, written != digits))
    return found


def contains_nhs_number(text: str) -> bool:
    """True when the text holds a valid NHS number in any written form (nhs_numbers_in)."""
    return bool(nhs_numbers_in(text))


def has_split_nhs_number(text: str) -> bool:
    """True when the text holds a valid NHS number written out (nhs_numbers_in), not run together."""
    return any(split for _, split in nhs_numbers_in(text)) if NHS_SPLIT_LIKE.search(text) or not text.isascii() \
        else False


def mask_identity_value(value: str | None) -> str | None:
    """A rejected value from an nhs_number column: keep only its shape (every digit, of any script,
    masked)."""
    if value is None:
        return None
    return _DIGIT.sub("*", value)


class Pseudonymiser:
    """HMAC-SHA256 under the deployment key, with bounded caches (identities repeat within a file).

    The caches hold only values that passed validation, so the loader also uses them as the set of
    identities already known to be valid.
    """

    def __init__(self, key: bytes | None = None, cache_size: int = 200_000) -> None:
        key = key if key is not None else pseudonymisation_key()
        self.nhs_cache: dict[str, str] = {}
        self.nhs_cache_cleared = False  # nhs_cache then no longer holds every identity seen
        self.pseudo_cache: dict[str, str] = {}
        self._cache_size = cache_size
        # HMAC (RFC 2104) with the keyed inner and outer SHA-256 states computed once: each
        # identity then costs two hash copies instead of a full hmac.new (about half the time).
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def _digest(self, message: str) -> str:
        inner = self._inner.copy()
        inner.update(message.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def nhs_number(self, value: str) -> str:
        """patient_key of a (validated) NHS number."""
        key = self.nhs_cache.get(value)
        if key is None:
            key = self._remember(self.nhs_cache, value, self._digest(value))
        return key

    def pseudonym(self, value: str) -> str:
        """patient_key of an upstream pseudonym: HMAC of `pseudo:` + value."""
        key = self.pseudo_cache.get(value)
        if key is None:
            key = self._remember(self.pseudo_cache, value, self._digest(PSEUDO_PREFIX + value))
        return key

    def key_of(self, value: str) -> str:
        """patient_key a valid NHS number would have, not cached (the caches hold identities seen)."""
        return self._digest(value)

    def token(self, value: str) -> str:
        """A keyed hash of any text, for comparing values that must not leave the loader in clear
        (e.g. an invalid identity); never cached, since the caches hold valid identities only."""
        return self._digest(TOKEN_PREFIX + value)

    def _remember(self, cache: dict[str, str], value: str, key: str) -> str:
        if len(cache) >= self._cache_size:
            cache.clear()  # memory stays bounded whatever the file size
            self.nhs_cache_cleared = self.nhs_cache_cleared or cache is self.nhs_cache
        cache[value] = key
        return key


def patient_key(value: str, pseudonymous: bool = False, key: bytes | None = None) -> str:
    """patient_key of one identity value (NHS number, or upstream pseudonym when pseudonymous)."""
    p = Pseudonymiser(key)
    return p.pseudonym(value) if pseudonymous else p.nhs_number(value)
