"""`spw report`: the steering group's board pack, from the published tables as the region's BI login.

The rendering test turns the PDF into images with pdftoppm (poppler-utils, scripts/ensure-poppler.sh)
and checks every page has something on it, and its text with pdftotext.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from spw import db, report_data, report_pdf
from spw.errors import SpwError
from spw.report_data import Estimate, Quarter

PAGES = ("What the service is doing for people referred", "Run charts (Making Data Count)",
         "Effect by measure, and what it is worth", "Data quality and how to read this pack")


def test_quarter_is_a_calendar_quarter_named_with_its_financial_year() -> None:
    q = Quarter.parse("2024-Q2")
    assert (q.start, q.end, q.code) == (date(2024, 4, 1), date(2024, 7, 1), "2024-Q2")
    assert q.label == "April to June 2024 (financial year 2024/25, quarter 1)"
    q4 = Quarter.parse("2023-Q4")
    assert (q4.start, q4.end) == (date(2023, 10, 1), date(2024, 1, 1))
    assert q4.label == "October to December 2023 (financial year 2023/24, quarter 3)"
    assert Quarter.parse("2025-Q1").label.endswith("(financial year 2024/25, quarter 4)")
    for bad in ("2024Q2", "2024-Q5", "Q2 2024"):
        with pytest.raises(SpwError):
            Quarter.parse(bad)


def test_an_estimate_is_drawn_only_with_its_interval_and_never_against_the_warehouses_judgement() -> None:
    published = Estimate("gp_face_to_face", "GP appointments face to face", 500, -1.2, -1.8, -0.6, -20.0, -30.0, -10.0)
    assert published.readable  # no sentence, so no judgement beyond publication
    assert not Estimate("gp_appointments", "GP appointments", 500, -1.2, -1.8, -0.6, -20.0, -30.0, -10.0,
                        estimable=False).readable
    assert Estimate("gp_appointments", "GP appointments", 500, -1.2, -1.8, -0.6, -20.0, -30.0, -10.0,
                    estimable=True).readable
    no_interval = Estimate("gp_appointments", "GP appointments", 12, -1.0, None, None, -20.0, None, None)
    assert not no_interval.readable


@pytest.mark.slow
def test_board_pack_renders_its_pages_from_published_tables_as_the_region_login(
        built_warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for tool in ("pdftoppm", "pdftotext"):
        assert shutil.which(tool), f"{tool} missing: run scripts/ensure-poppler.sh"
    roles = []
    connect = db.connect

    def spy(dbname: str = "warehouse", role: str | None = None, **kwargs):  # noqa: ANN202
        roles.append(role)
        return connect(dbname, role, **kwargs)

    monkeypatch.setattr(db, "connect", spy)
    pack = report_data.load("Y60", Quarter.parse("2024-Q2"))
    assert roles == ["spw_bi_region_y60"], "the pack must read as the region's BI login only"
    assert pack.region_name and pack.estimates and any(pack.spc.values()) and pack.data_quality
    out = report_pdf.write(pack, tmp_path / "pack.pdf")

    subprocess.run(["pdftoppm", "-r", "40", "-png", str(out), str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == len(PAGES)
    from matplotlib import image

    for path in images:
        pixels = image.imread(path)[..., :3]
        inked = (pixels.mean(axis=2) < 0.9).mean()
        assert inked > 0.01, f"{path.name} is (nearly) blank: {inked:.3%} of pixels inked"

    text = subprocess.run(["pdftotext", str(out), "-"], check=True, capture_output=True, text=True).stdout
    pages = text.split("\f")
    for title, page in zip(PAGES, pages, strict=False):
        assert title in page
        assert "Midlands (Y60)" in page and "April to June 2024" in page
    # the headline sentences are the warehouse's, word for word, and only those
    with db.connect("warehouse", "spw_bi_region_y60") as conn:
        model = [r[0] for r in conn.execute(report_data.HEADLINE_SQL, ("Y60",)).fetchall()]
    assert model and pack.sentences == model
    flat = " ".join(pages[0].split())
    for sentence in model:
        assert " ".join(sentence.split()) in flat, sentence
    judged = {e.measure: e.estimable for e in pack.estimates if e.estimable is not None}
    assert set(judged) == {"gp_appointments", "ae_attendances", "emergency_admissions"}
    assert "Deliveries for the quarter" in pages[3]
    # the fixture's other region never appears: the login cannot read its rows
    assert "North West" not in text and "Y62" not in text


@pytest.mark.slow
def test_spw_report_command_writes_the_pdf(built_warehouse, tmp_path: Path) -> None:
    from spw.cli import main

    out = tmp_path / "y62.pdf"
    assert main(["report", "--region", "Y62", "--quarter", "2024-Q2", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF")


@pytest.mark.slow
def test_demo_writes_the_board_pack_for_the_latest_complete_quarter(
        built_warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from spw.demo import write_board_pack

    monkeypatch.setenv("SPW_LANDING_DIR", str(tmp_path / "landing"))
    quarter = report_data.latest_quarter("Y60")
    with db.connect("warehouse", "spw_analyst") as conn:
        last = conn.execute("select max(month) from marts.mart_rollout_monthly_series "
                            "where geography_level = 'region' and geography_code = 'Y60'").fetchone()[0]
    # the quarter is complete: its last month is in the data, and the data end before the next one's
    assert quarter.end <= date(last.year + (last.month == 12), last.month % 12 + 1, 1)
    next_quarter_last_month = date(quarter.end.year + (quarter.end.month > 10), (quarter.end.month + 1) % 12 + 1, 1)
    assert last < next_quarter_last_month
    out = write_board_pack("Y60")
    assert out == tmp_path / "reports" / f"board-pack-Y60-{quarter.code}.pdf"
    assert out.read_bytes().startswith(b"%PDF")
