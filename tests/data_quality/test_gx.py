"""Great Expectations suites catch what they are for; the factory's checks block or warn; their Data
Docs render offline (screenshots go to UNMOGROWP_TEST_ARTIFACTS, default `test-artifacts/gx/`)."""

import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
import pytest

from assets.quality import GxCheck, gx_asset_check
from assets.resources import ClickHouseResource, LakeResource
from data_quality import runner, suites
from data_quality.offline_docs import make_docs_offline
from tests.conftest import REPO
from unmogrowp.contracts.events import EVENT_CONTRACT
from unmogrowp.ingest.events import LINEAGE

NOW = datetime(2026, 9, 10, tzinfo=UTC)


def silver_rows(n: int = 4) -> pd.DataFrame:
    rows = []
    for i in range(n):
        row = dict.fromkeys([*LINEAGE.names, *EVENT_CONTRACT.names])
        row.update(landing_date="2026-09-01", landing_hour=datetime(2026, 9, 1, tzinfo=UTC), source_file="f",
                   line_number=i, loaded_at=NOW, event_id=f"00000000-0000-0000-0000-00000000000{i}",
                   app_id="app", event_type="purchase", event_ts=datetime(2026, 9, 1, 1, tzinfo=UTC),
                   received_ts=datetime(2026, 9, 1, 1, tzinfo=UTC), platform="ios", revenue=1.99, currency="USD")
        rows.append(row)
    return pd.DataFrame(rows)


def failed(outcome) -> set[tuple[str, str]]:
    return {(f["expectation"], f.get("column", "")) for f in outcome.failed}


def test_silver_suite_passes_clean_rows_and_names_each_fault(tmp_path):
    good = silver_rows()
    assert runner.validate(tmp_path, suites.silver_events(NOW), good).success
    bad = silver_rows()
    bad.loc[1, "event_id"] = bad.loc[0, "event_id"]            # duplicate id
    bad.loc[2, "revenue"] = -5.0                              # negative revenue
    bad.loc[3, "currency"] = "usd'; DROP TABLE x"            # not a currency code
    bad.loc[0, "event_ts"] = datetime(2100, 1, 1, tzinfo=UTC)  # in the future
    outcome = runner.validate(tmp_path, suites.silver_events(NOW), bad)
    assert not outcome.success
    assert failed(outcome) == {("expect_column_values_to_be_unique", "event_id"),
                               ("expect_column_values_to_be_between", "revenue"),
                               ("expect_column_values_to_match_regex", "currency"),
                               ("expect_column_values_to_be_between", "event_ts")}
    assert outcome.docs_url.endswith("index.html") and (tmp_path / "gx").is_dir()


def test_required_fields_follow_the_event_type(tmp_path):
    rows = silver_rows(2)
    rows.loc[0, "revenue"] = None  # a purchase must carry revenue
    rows.loc[1, ["event_type", "revenue", "currency"]] = ["session_start", None, None]  # a session need not
    outcome = runner.validate(tmp_path, suites.silver_events(NOW), rows)
    assert failed(outcome) == {("expect_column_values_to_not_be_null", "revenue")}
    assert outcome.failed[0]["unexpected"] == 1


def test_feature_drift_against_the_previous_day(tmp_path):
    base = {"ctit_s": [10.0, 20.0], "log_ctit": [2.4, 3.0], "geo_distance_km": [0.0, 0.0],
            "time_to_first_session_s": [5.0, 6.0], "is_anonymous_ip": [0, 0], "install_id": ["a", "b"],
            **{c: [1, 1] for c in suites.FEATURE_NON_NEGATIVE if c not in
               ("ctit_s", "log_ctit", "geo_distance_km", "time_to_first_session_s")}}
    previous = pd.DataFrame(base)
    same = pd.DataFrame(base)
    assert runner.validate(tmp_path, suites.fraud_feature_drift(previous), same).success
    drifted = pd.DataFrame({**base, "ip_installs_24h": [9, 11]})  # a farm appears: mean 1 -> 10
    outcome = runner.validate(tmp_path, suites.fraud_feature_drift(previous), drifted)
    assert failed(outcome) == {("expect_column_mean_to_be_between", "ip_installs_24h")}


def test_feature_checks_judge_ctit_among_matched_installs_only(tmp_path):
    """An all-organic day (no CTIT anywhere) passes; a matched install without CTIT fails."""
    organic = pd.DataFrame({"install_id": ["a", "b", "c"], "winning_touch_id": [None, None, None],
                            "ctit_s": [None, None, None], "is_anonymous_ip": [0, 0, 0],
                            "device_key": ["k1", "k2", "k3"], "match_method": ["organic"] * 3,
                            **{c: [0, 0, 0] for c in suites.FEATURE_NOT_NULL
                               if c not in ("is_anonymous_ip", "device_key", "match_method")},
                            **{c: [1.0, 2.0, 3.0] for c in suites.FEATURE_NON_NEGATIVE
                               if c not in suites.FEATURE_NOT_NULL and c != "ctit_s"}})
    assert runner.validate(tmp_path, suites.fraud_install_features(), organic).success
    broken = organic.assign(winning_touch_id=["t1", None, None])
    outcome = runner.validate(tmp_path, suites.fraud_install_features(), broken)
    assert failed(outcome) == {("expect_column_values_to_not_be_null", "ctit_s")}


def test_touches_from_networks_outside_the_config_warn(tmp_path):
    touches = pd.DataFrame({"event_type": ["click", "click"], "media_source": ["adnet_alpha", "chan_245"]})
    outcome = runner.validate(tmp_path, suites.known_networks(["adnet_alpha"]), touches)
    assert failed(outcome) == {("expect_column_values_to_be_in_set", "media_source")}


@pytest.mark.parametrize("blocking", [True, False])
def test_factory_checks_block_or_warn(tmp_path, blocking):
    @dg.asset
    def upstream():
        return 1

    @dg.asset(deps=[upstream])
    def downstream():
        return 2

    bad = pd.DataFrame({"retained_classic": [0.5], "retained_rolling": [0.4]})  # rolling below classic
    spec = GxCheck("gx_toy", "upstream", lambda start, end, lake, ch, home: (bad, suites.cohort_retention()),
                   blocking, None, "toy", "toy rows")
    check = gx_asset_check(spec, tmp_path, {})
    result = dg.materialize([upstream, downstream, check], raise_on_error=False, resources={
        "lake": LakeResource(root_uri=tmp_path.as_uri()), "clickhouse": ClickHouseResource()})
    evaluation = result.get_asset_check_evaluations()[0]
    assert not evaluation.passed
    assert evaluation.severity == (dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN)
    assert evaluation.metadata["data_docs"].value.startswith("file://")
    ran_downstream = any(m.asset_key == dg.AssetKey("downstream")
                         for m in (e.event_specific_data.materialization
                                   for e in result.get_asset_materialization_events()))
    assert ran_downstream is (not blocking)


@pytest.mark.parametrize(("rows", "reason"), [
    (pd.DataFrame({"retained_classic": [], "retained_rolling": []}), "no rows in retention cells for this partition"),
    (pd.DataFrame({"retained_classic": [0.5]}), "too few days to judge"),
])
def test_a_check_with_nothing_to_judge_passes_and_says_why(tmp_path, rows, reason):
    """An empty partition (or too little data for a verdict) passes with a note, blocking or not."""
    @dg.asset
    def upstream():
        return 1

    suite = suites.cohort_retention() if rows.empty else reason
    spec = GxCheck("gx_toy", "upstream", lambda start, end, lake, ch, home: (rows, suite), True, None, "toy",
                   "retention cells")
    result = dg.materialize([upstream, gx_asset_check(spec, tmp_path, {})], resources={
        "lake": LakeResource(root_uri=tmp_path.as_uri()), "clickhouse": ClickHouseResource()})
    evaluation = result.get_asset_check_evaluations()[0]
    assert evaluation.passed
    assert evaluation.metadata["skipped"].value == reason and evaluation.metadata["rows"].value == len(rows)


CHROMIUM = os.environ.get("UNMOGROWP_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("UNMOGROWP_TEST_ARTIFACTS") or REPO / "test-artifacts" / "gx")
# what a page loads by itself: scripts, images, stylesheets (and other <link>s), CSS url()s
RESOURCE = re.compile(r"""<(?:script|img|link|iframe|source|embed)\b[^>]*?\b(?:src|href)=["']([^"']*)["']"""
                      r"""|url\(\s*["']?([^"')]+)""", re.I)
ANCHOR = re.compile(r"""<a\b[^>]*?\bhref=["']([^"']*)["']""", re.I)
VENDORED = ["bootstrap/css/bootstrap.min.css", "bootstrap/js/bootstrap.bundle.min.js", "jquery/jquery.min.js",
            "font-awesome/css/all.min.css", "bootstrap-table-fallback.js", "vega/vega-embed-bundle.js"]


@pytest.fixture(scope="module")
def docs_site(tmp_path_factory):
    """A Data Docs site of two runs of a suite that fails one expectation and draws one chart."""
    home = tmp_path_factory.mktemp("gx_docs")
    suite = gx.ExpectationSuite(name="offline_docs", expectations=[
        gxe.ExpectColumnValuesToBeInSet(column="media_source", value_set=["adnet_alpha"]),
        gxe.ExpectColumnKLDivergenceToBeLessThan(column="x", threshold=0.1,  # rendered as a Vega-Lite chart
                                                 partition_object={"bins": [0, 1, 2], "weights": [0.5, 0.5]})])
    rows = pd.DataFrame({"media_source": ["adnet_alpha", "chan_245"], "x": [0.5, 1.5]})
    for _ in range(2):  # the second build adds pages to a site already made offline
        assert not runner.validate(home, suite, rows).success
    return home, runner.docs_index(home).parent


def site_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "vendor" not in p.relative_to(site).parts)


@pytest.mark.slow
def test_data_docs_reference_only_files_of_their_own(docs_site):
    """No page loads anything from outside the site, every file it loads exists, and a rerun changes nothing."""
    _, site = docs_site
    pages = site_pages(site)
    assert len([p for p in pages if p.relative_to(site).parts[0] == "validations"]) == 2
    vendored = set()
    for page in pages:
        html = page.read_text(encoding="utf-8")
        refs = [m.group(1) or m.group(2) for m in RESOURCE.finditer(html)]
        assert [r for r in refs if re.match(r"(https?:)?//", r)] == [], page
        for ref in refs:
            if not ref.startswith(("data:", "#")):
                target = (page.parent / ref.split("?")[0]).resolve()
                assert target.is_file(), (page, ref)
                if "vendor" in target.parts:
                    vendored.add(target.relative_to(site / "static" / "vendor").as_posix())
        # what stays external is GX's links to its docs and website, fetched only if clicked
        external = [a for a in ANCHOR.findall(html) if re.match(r"(https?:)?//", a)]
        assert {urlparse(a).hostname for a in external} <= {"greatexpectations.io", "docs.greatexpectations.io"}
        assert not re.search(r"(cdn\.jsdelivr|unpkg|cdnjs|bootstrapcdn|code\.jquery|amazonaws)\.", html), page
    assert vendored == set(VENDORED)  # the vega bundle only where a chart is drawn
    fonts = site / "static" / "vendor" / "font-awesome" / "webfonts"
    css = (site / "static" / "vendor" / "font-awesome" / "css" / "all.min.css").read_text(encoding="utf-8")
    needed = set(re.findall(r"\.\./webfonts/([\w.-]+)", css))
    assert needed and needed <= {f.name for f in fonts.iterdir()}
    before = {p: p.read_bytes() for p in pages}
    make_docs_offline(site)
    make_docs_offline(site)
    assert {p: p.read_bytes() for p in site_pages(site)} == before


LOOK = """() => ({
  sheets: [...document.styleSheets].map(s => s.href).filter(Boolean).map(h => h.split("/static/vendor/")[1]),
  navbar: [getComputedStyle(document.querySelector(".navbar")).paddingTop,
           getComputedStyle(document.querySelector(".navbar")).paddingLeft],
  font: getComputedStyle(document.body).fontFamily.split(",")[0],
  icons: [...document.fonts].filter(f => f.family.includes("Font Awesome 6 Free")).map(f => f.status),
  icon: getComputedStyle(document.querySelector(".fas")).fontFamily,
  jquery: jQuery.fn.jquery,
  bootstrap: jQuery.fn.tooltip.Constructor.VERSION,
})"""


@pytest.mark.slow
def test_data_docs_render_styled_offline_in_chromium(docs_site, request):
    """Headless Chromium with every non-file request aborted: the index and a validation page load
    without a failed request or a console error, Bootstrap and Font Awesome apply, the index lists
    the runs (its rows link to them) and the validation page draws its chart."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} not found: `make system-packages` installs chromium (or set UNMOGROWP_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    home, _ = docs_site
    artifacts = ARTIFACTS / request.node.name
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    blocked, failed, errors = [], [], []

    def offline(route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.route("**/*", offline)
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            page.goto(runner.docs_index(home).as_uri())
            page.evaluate("document.fonts.ready.then(() => true)")
            index = page.evaluate(LOOK)
            runs = page.locator("tr.clickable-row[data-href^='validations/']")
            assert runs.count() == 2
            page.screenshot(path=str(artifacts / "index.png"), full_page=True)

            runs.first.locator("td").nth(1).click()  # the newest run's time (other cells hold links)
            page.wait_for_url("**/validations/**")
            page.wait_for_selector(".vega-embed svg, .vega-embed canvas")
            page.evaluate("document.fonts.ready.then(() => true)")
            validation = page.evaluate(LOOK)
            page.screenshot(path=str(artifacts / "validation.png"), full_page=True)
        finally:
            browser.close()

    assert (blocked, failed, errors) == ([], [], [])
    for look in (index, validation):
        assert look["sheets"] == ["bootstrap/css/bootstrap.min.css", "font-awesome/css/all.min.css"]
        assert look["navbar"] == ["8px", "16px"]  # Bootstrap's .navbar padding: .5rem 1rem
        assert look["font"] == "-apple-system"  # Bootstrap's font stack, not the browser's serif
        assert "loaded" in look["icons"] and look["icon"] == '"Font Awesome 6 Free"'
        assert (look["jquery"], look["bootstrap"]) == ("3.7.1", "4.5.3")
