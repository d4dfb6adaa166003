"""An attacker on the published layer (methods §9): what exact counts can a reader of `published.*` work out?

It knows what the documentation says (which columns are counts, how means, rates and percentages are
defined, how areas, cohort years, subgroups and populations nest) and nothing else. From each
published count it starts with the set of values that count could have (0; r-2 .. r+2 when rounded to
5; the value itself at a level published unrounded; when suppressed, 1..7 under methods §9 alone, or
any value of 1 or more where the layer also suppresses larger counts to protect small ones: methods
§6 "secondary suppression", which no published column tells apart), then narrows the sets until
nothing changes:

- mean inversion: a mean, rate, percentage or interval midpoint that was computed from exact counts
  is consistent with few (often one) of the candidate numerators and denominators; a mean of a hidden
  total (scores, controls' means) must be a whole multiple of 1/lattice times n. A figure that the
  published (rounded) counts explain exactly tells it nothing and is skipped.
- differencing: a whole is at least the sum of its parts (a sub-ICB and its PCNs, England and its
  regions, `all` and the cohort years, a subgroup and its complement, referred and engaged, the 6- and
  12-month windows), or exactly their sum where the definition says so (excluded + eligible =
  referred; matched + unmatched = n; the values of one equity dimension).

A count is recovered when its set shrinks to one value; it is a disclosure when that value is in
1..7 and equals the unrounded mart's. The remainder of a whole over its parts (a complement nobody
published) counts too.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

Row = dict
Cell = tuple  # (table, key tuple, column)

SMALL = range(1, 8)
BASE = 5
UNBOUNDED = 10 ** 9  # the upper end of a suppressed count that may be a secondary suppression
SUPPRESSED = (0, UNBOUNDED)
LEVEL_PARENT = {"pcn": ("sub_icb", "sub_icb_code"), "sub_icb": ("icb", "icb_code"),
                "icb": ("region", "region_code"), "region": ("england", None)}


@dataclass(frozen=True)
class Ratio:
    """value = offset + scale * N / D; N and D are sums of coefficient * count column (D empty: 1).
    num=None: a hidden total, a whole multiple of 1/lattice. `value` may be a pair of interval bounds,
    whose midpoint is the point they were centred on."""

    value: str | tuple[str, str]
    num: tuple[tuple[str, int], ...] | None
    den: tuple[tuple[str, int], ...]
    scale: float | Callable[[Row], float | None] = 1.0
    offset: float = 0.0
    lattice: int = 1


@dataclass
class Table:
    name: str
    keys: tuple[str, ...]
    counts: tuple[str, ...]
    ratios: tuple[Ratio, ...] = ()
    # count columns whose value does not depend on these keys (one cell shared by those rows)
    shared: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _terms(*cols: str) -> tuple[tuple[str, int], ...]:
    return tuple((c, 1) for c in cols)


def mid(row: Row, pair: tuple[str, str]) -> float | None:
    low, high = row.get(pair[0]), row.get(pair[1])
    return None if low is None or high is None else (float(low) + float(high)) / 2


def decimals_tolerance(values: Iterable[float]) -> float:
    """Half a unit of the last decimal the figures were rounded to (full precision: float noise)."""
    dp = 0
    for v in values:
        for d in range(0, 5):
            scaled = v * 10 ** d
            if abs(scaled - round(scaled)) < 1e-9 * max(1.0, abs(scaled)):
                dp = max(dp, d)
                break
        else:
            return 1e-9 * max(1.0, max(abs(x) for x in values))
    return 0.5 * 10 ** -dp


class Attack:
    def __init__(self, tables: list[Table], published: dict[str, list[Row]], truth: dict[str, list[Row]],
                 suppressed: tuple[int, int] | None = None):
        self.tables = {t.name: t for t in tables}
        self.suppressed = list(suppressed or SUPPRESSED)
        self.published = published
        self.cells: dict[Cell, list[int]] = {}
        self.route: dict[Cell, str] = {}
        self.truth: dict[Cell, int | None] = {}
        self.shown: dict[Cell, int | None] = {}
        self.rows: dict[str, dict[tuple, Row]] = {}
        self.relations: list[tuple[Cell, list[Cell], bool, str]] = []
        self._related: set[tuple] = set()
        for t in tables:
            self._load(t, published.get(t.name, []), truth.get(t.name, []))

    # --- cells -------------------------------------------------------------------------------------
    def key(self, t: Table, row: Row) -> tuple:
        return tuple(row.get(k) for k in t.keys)

    def cell(self, table: str, row: Row, col: str) -> Cell:
        t = self.tables[table]
        drop = t.shared.get(col, ())
        return (table, tuple(row.get(k) if k not in drop else "*" for k in t.keys), col)

    def _load(self, t: Table, rows: list[Row], truth_rows: list[Row]) -> None:
        unrounded_levels = {
            r.get("geography_level") for r in rows for c in t.counts
            if r.get(c) is not None and (r[c] in SMALL or r[c] % BASE != 0)
        }
        self.rows[t.name] = {self.key(t, r): r for r in rows}
        truth_by_key = {self.key(t, r): r for r in truth_rows}
        for r in rows:
            exact_level = r.get("geography_level") in unrounded_levels
            truth = truth_by_key.get(self.key(t, r), {})
            for c in t.counts:
                cell = self.cell(t.name, r, c)
                v = r.get(c)
                if v is None:
                    interval = list(self.suppressed)
                elif v == 0 or exact_level:
                    interval = [int(v), int(v)]
                else:
                    interval = [max(int(v) - 2, 0), int(v) + 2]
                known = self.cells.get(cell)
                self.cells[cell] = interval if known is None else [max(known[0], interval[0]),
                                                                   min(known[1], interval[1])]
                self.shown.setdefault(cell, v)
                self.truth.setdefault(cell, truth.get(c))
                if interval[0] == interval[1] and v is not None and v in SMALL:
                    self.route.setdefault(cell, "published unrounded")

    def narrow(self, cell: Cell, lo: int, hi: int, route: str) -> bool:
        cur = self.cells[cell]
        lo, hi = max(lo, cur[0]), min(hi, cur[1])
        if lo > hi or (lo, hi) == tuple(cur):
            return False  # inconsistent (an assumption that does not hold here) or nothing new
        self.cells[cell] = [lo, hi]
        if lo == hi:
            self.route.setdefault(cell, route)
        return True

    # --- relations ---------------------------------------------------------------------------------
    def relate(self, whole: Cell, parts: list[Cell], exact: bool, kind: str) -> None:
        parts = list(dict.fromkeys(p for p in parts if p in self.cells and p != whole))
        ident = (whole, frozenset(parts), exact)
        if whole in self.cells and parts and ident not in self._related:
            self._related.add(ident)
            self.relations.append((whole, parts, exact, kind))

    def nest(self, table: str, group_by: Callable[[Row], tuple | None], whole_of: Callable[[tuple], tuple | None],
             cols: Iterable[str], kind: str, exact: bool = False) -> None:
        """Rows grouped by group_by(row) (None: not a part) are the parts of the row whose key is
        whole_of(group)."""
        t = self.tables[table]
        groups: dict[tuple, list[Row]] = defaultdict(list)
        for r in self.rows[table].values():
            g = group_by(r)
            if g is not None:
                groups[g].append(r)
        for g, parts in groups.items():
            wkey = whole_of(g)
            whole = self.rows[table].get(wkey) if wkey is not None else None
            if whole is None:
                continue
            for c in cols:
                if c in t.counts:
                    self.relate(self.cell(table, whole, c), [self.cell(table, p, c) for p in parts], exact, kind)

    def nest_geography(self, table: str, cols: Iterable[str]) -> None:
        t = self.tables[table]
        gi, ci = t.keys.index("geography_level"), t.keys.index("geography_code")

        def group(r: Row) -> tuple | None:
            up = LEVEL_PARENT.get(r["geography_level"])
            if up is None:
                return None
            code = "ENG" if up[1] is None else r.get(up[1])
            if code is None:
                return None
            k = list(self.key(t, r))
            k[gi], k[ci] = up[0], code
            return tuple(k)

        self.nest(table, group, lambda g: g, cols, "area vs its parts")

    def nest_key(self, table: str, key: str, whole_value, part_values: Callable[[object], bool] | None, cols,
                 kind: str, exact: bool = False) -> None:
        """Rows differing only in `key`: the row with whole_value against those with part values."""
        t = self.tables[table]
        i = t.keys.index(key)

        def group(r: Row) -> tuple | None:
            v = r.get(key)
            if v == whole_value or (part_values is not None and not part_values(v)):
                return None
            k = list(self.key(t, r))
            k[i] = whole_value
            return tuple(k)

        self.nest(table, group, lambda g: g, cols, kind, exact)

    def within_row(self, table: str, whole: str, parts: list[str], exact: bool, kind: str) -> None:
        for r in self.rows[table].values():
            self.relate(self.cell(table, r, whole), [self.cell(table, r, p) for p in parts], exact, kind)

    def propagate(self, dirty: set[Cell] | None) -> set[Cell]:
        changed: set[Cell] = set()
        todo = range(len(self.relations)) if dirty is None else sorted(
            {i for c in dirty for i in self._relations_of.get(c, ())})
        for i in todo:
            whole, parts, exact, kind = self.relations[i]
            lo = [self.cells[p][0] for p in parts]
            hi = [self.cells[p][1] for p in parts]
            plo, phi = sum(lo), sum(hi)
            w = self.cells[whole]
            if self.narrow(whole, plo, phi if exact else w[1], f"difference ({kind})"):
                changed.add(whole)
            w = self.cells[whole]
            for p, a, b in zip(parts, lo, hi, strict=True):
                low = w[0] - (phi - b) if exact else 0
                if self.narrow(p, low, w[1] - (plo - a), f"difference ({kind})"):
                    changed.add(p)
        return changed

    # --- mean inversion ----------------------------------------------------------------------------
    def _prepare(self) -> None:
        """One job per published figure: (table, ratio, y = N / D, its tolerance, cells, columns)."""
        self.jobs = []
        for t in self.tables.values():
            for ratio in t.ratios:
                for r in self.rows[t.name].values():
                    if isinstance(ratio.value, tuple):
                        x = mid(r, ratio.value)
                        tol = decimals_tolerance([float(r[c]) for c in ratio.value]) if x is not None else 0
                    else:
                        x = r.get(ratio.value)
                        x = None if x is None else float(x)
                        tol = decimals_tolerance([x]) if x is not None else 0
                    scale = ratio.scale(r) if callable(ratio.scale) else ratio.scale
                    if x is None or not scale:
                        continue
                    y, ytol = (x - ratio.offset) / scale, tol / abs(scale)
                    cols = list(dict.fromkeys([c for c, _ in ratio.num or ()] + [c for c, _ in ratio.den]))
                    cells = [self.cell(t.name, r, c) for c in cols]
                    if any(c not in self.cells for c in cells) or self._explained(r, ratio, cols, y, ytol):
                        continue
                    self.jobs.append((t.name, ratio, y, ytol, cells, cols))
        self._jobs_of: dict[Cell, list[int]] = defaultdict(list)
        for i, job in enumerate(self.jobs):
            for c in job[4]:
                self._jobs_of[c].append(i)
        self._relations_of: dict[Cell, list[int]] = defaultdict(list)
        for i, (whole, parts, _, _) in enumerate(self.relations):
            for c in (whole, *parts):
                self._relations_of[c].append(i)

    def invert(self, dirty: set[Cell] | None) -> set[Cell]:
        changed: set[Cell] = set()
        todo = range(len(self.jobs)) if dirty is None else sorted({i for c in dirty for i in self._jobs_of.get(c, ())})
        for i in todo:
            changed |= self._invert(*self.jobs[i])
        return changed

    def _invert(self, table: str, ratio: Ratio, y: float, ytol: float, cells: list[Cell], cols: list[str]) -> set[Cell]:
        if all(self.cells[c][0] == self.cells[c][1] for c in cells):
            return set()
        ranges = [range(self.cells[c][0], self.cells[c][1] + 1) for c in cells]
        if math.prod(len(x) for x in ranges) > 20000:
            return set()
        kept = []
        for values in itertools.product(*ranges):
            v = dict(zip(cols, values, strict=True))
            d = sum(k * v[c] for c, k in ratio.den) if ratio.den else 1
            if d == 0:
                continue
            if ratio.num is None:
                total = y * d * ratio.lattice
                if abs(total - round(total)) <= ytol * abs(d) * ratio.lattice + 1e-9 * max(1.0, abs(total)):
                    kept.append(values)
            else:
                n = sum(k * v[c] for c, k in ratio.num)
                if abs(n / d - y) <= ytol + 1e-9 * max(1.0, abs(y)):
                    kept.append(values)
        changed: set[Cell] = set()
        if kept:
            for i, c in enumerate(cells):
                vals = [k[i] for k in kept]
                if self.narrow(c, min(vals), max(vals), f"mean inversion ({table}.{_label(ratio.value)})"):
                    changed.add(c)
        return changed

    def _explained(self, r: Row, ratio: Ratio, cols: list[str], y: float, ytol: float) -> bool:
        """The figure is what the published (rounded) counts give: it carries no more than they do."""
        shown = {c: r.get(c) for c in cols}
        if any(v is None for v in shown.values()):
            return False
        d = sum(k * shown[c] for c, k in ratio.den) if ratio.den else 1
        if d == 0:
            return False
        if ratio.num is None:
            total = y * d / BASE
            return abs(total - round(total)) <= (ytol * abs(d) + 1e-9 * max(1.0, abs(y * d))) / BASE
        n = sum(k * shown[c] for c, k in ratio.num)
        return abs(n / d - y) <= ytol + 1e-9 * max(1.0, abs(y))

    # --- result ------------------------------------------------------------------------------------
    def run_one_step(self) -> None:
        """Each route once, from what the published figures say (no chaining): every mean inverted,
        then every comparison of a whole with its parts made against those sets."""
        self._prepare()
        self.invert(None)
        frozen = {c: list(v) for c, v in self.cells.items()}
        narrowed: dict[Cell, list] = {}
        for whole, parts, exact, kind in self.relations:
            plo = sum(frozen[p][0] for p in parts)
            phi = sum(frozen[p][1] for p in parts)
            w = frozen[whole]
            updates = [(whole, plo, phi if exact else w[1])]
            for p in parts:
                low = w[0] - (phi - frozen[p][1]) if exact else 0
                updates.append((p, low, w[1] - (plo - frozen[p][0])))
            for c, lo, hi in updates:
                cur = narrowed.setdefault(c, [frozen[c][0], frozen[c][1], kind])
                if max(lo, cur[0]) <= min(hi, cur[1]):
                    cur[0], cur[1] = max(lo, cur[0]), min(hi, cur[1])
                    if cur[0] == cur[1]:
                        cur[2] = kind
        for c, (lo, hi, kind) in narrowed.items():
            self.narrow(c, lo, hi, f"difference ({kind})")

    def run(self, rounds: int = 50) -> None:
        self._prepare()
        dirty: set[Cell] | None = None
        for _ in range(rounds):
            changed = self.invert(dirty)
            changed |= self.propagate(None if dirty is None else dirty | changed)
            if not changed:
                break
            dirty = changed

    def disclosures(self) -> list[dict]:
        """Counts in 1..7 pinned to their true (unrounded mart) value, and pinned complements."""
        found = []
        for cell, (lo, hi) in self.cells.items():
            if lo == hi and lo in SMALL and self.truth.get(cell) == lo:
                found.append({"table": cell[0], "key": cell[1], "column": cell[2], "value": lo,
                              "route": self.route.get(cell, "?")})
        seen = set()
        for whole, parts, exact, kind in self.relations:
            if exact:
                continue
            lo = self.cells[whole][0] - sum(self.cells[p][1] for p in parts)
            hi = self.cells[whole][1] - sum(self.cells[p][0] for p in parts)
            truths = [self.truth.get(c) for c in [whole, *parts]]
            if lo == hi and lo in SMALL and None not in truths and truths[0] - sum(truths[1:]) == lo:
                ident = (whole, tuple(parts))
                if ident not in seen:
                    seen.add(ident)
                    found.append({"table": whole[0], "key": whole[1], "column": whole[2], "value": lo,
                                  "route": f"complement ({kind})"})
        return found


def _label(value: str | tuple[str, str]) -> str:
    return value if isinstance(value, str) else f"midpoint({value[0]}, {value[1]})"
