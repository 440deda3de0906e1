"""The daily growth report on the shared pipeline run (2026-09-01..02): its headline figures are the
warehouse's, the page is one self-contained file (no script, no external reference, charts as
data: URIs), `unmogrowp report` writes it, and headless Chromium renders it with every network
request refused. The page's screenshot goes to UNMOGROWP_TEST_ARTIFACTS (default `test-artifacts/report/`).
"""

import base64
import io
import os
import re
import subprocess
import sys
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import clickhouse_connect
import pytest
from PIL import Image

from tests.conftest import REPO
from unmogrowp import growth_report
from unmogrowp.config import settings_environ
from unmogrowp.net import free_port

CLI = str(Path(sys.executable).with_name("unmogrowp"))
CHROMIUM = os.environ.get("UNMOGROWP_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("UNMOGROWP_TEST_ARTIFACTS") or REPO / "test-artifacts") / "report"
DAY = date(2026, 9, 1)
EMPTY_DAY = date(2030, 1, 1)
ON_DAY = "toDate(install_ts, 'UTC') = {d:Date}"


class Page(HTMLParser):
    """The tags of a page: every attribute of every element, and the headings' text."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("h1", "h2"):
            self._heading = []

    def handle_endtag(self, tag):
        if tag in ("h1", "h2") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data):
        if self._heading is not None:
            self._heading.append(data)


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("UNMOGROWP_", "LAKEHOUSE_", "CLICKHOUSE_", "AWS_", "MLFLOW_", "FEAST_"))}
    env.update(UNMOGROWP_HOME=str(home), **extra)
    return env


def _cli(args: list[str], env: dict, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


# -- no pipeline needed -------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["2026-13-01", "2026-02-30", "yesterday", "01/09/2026"])
def test_cli_refuses_a_bad_date_with_one_line_before_writing(tmp_path, bad):
    out = tmp_path / "out" / "r.html"
    p = _cli(["report", "--date", bad, "--out", str(out)], _env(tmp_path / "home"), tmp_path, timeout=60)
    assert p.returncode == 2, p
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("unmogrowp report: error: argument --date:"), p.stderr
    assert bad in lines[0] and "YYYY-MM-DD" in lines[0]
    assert not out.parent.exists() and not (tmp_path / "home" / "reports").exists()


def test_cli_says_clearly_when_clickhouse_is_not_reachable(tmp_path):
    out = tmp_path / "r.html"
    env = _env(tmp_path / "home", UNMOGROWP_CLICKHOUSE_PORT=str(free_port()))
    p = _cli(["report", "--date", "2026-09-01", "--out", str(out)], env, tmp_path, timeout=120)
    assert p.returncode == 1, p
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "unmogrowp report: error: the ClickHouse server at http://127.0.0.1:" in lines[0]
    assert "not reachable" in lines[0] and "unmogrowp clickhouse start" in lines[0]
    assert not out.exists()


# -- on the pipeline run ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(pipeline_run):
    ch = pipeline_run.settings.clickhouse
    c = clickhouse_connect.get_client(host=ch.host, port=ch.port)
    yield c
    c.close()


@pytest.fixture(scope="module")
def report(client):
    return growth_report.build_report(client, DAY)


def _one(client, sql: str, **params):
    return client.query(sql, parameters={"d": DAY, **params}).result_rows[0][0]


@pytest.mark.slow
def test_headline_installs_are_the_warehouse_counts(client, report):
    k = report.kpis
    rows = client.query(f"""SELECT attribution_status, count() FROM marts.fct_installs
                            WHERE {ON_DAY} AND install_kind = 'install' GROUP BY 1""",
                        parameters={"d": DAY}).result_rows
    by_status = dict(rows)
    assert by_status, "the pipeline run has installs on 2026-09-01"
    for status in growth_report.STATUSES:
        assert k[f"installs_{status}"] == by_status.get(status, 0), status
    assert k["paid_installs"] == by_status["attributed"] > 0
    assert k["organic_installs"] == by_status["organic"] > 0
    assert k["new_installs"] == sum(by_status.values())
    kinds = dict(client.query(f"SELECT install_kind, count() FROM marts.fct_installs WHERE {ON_DAY} GROUP BY 1",
                              parameters={"d": DAY}).result_rows)
    assert (k["reinstalls"], k["reattributions"]) == (kinds.get("reinstall", 0), kinds.get("reattribution", 0))
    assert k["installs_all_kinds"] == sum(kinds.values())
    assert report.has_data


@pytest.mark.slow
def test_headline_fraud_spend_retention_revenue_are_the_warehouse_figures(client, report):
    k = report.kpis
    for action, key in (("reject", "fraud_installs_rejected"), ("flag", "fraud_installs_flagged"),
                        ("tag", "fraud_installs_tagged")):
        assert k[key] == _one(client, """SELECT uniqExact(install_id) FROM marts.fct_fraud_decisions
                                         WHERE install_date = {d:Date} AND action = {a:String}""", a=action), action
    assert k["fraud_installs_rejected"] + k["fraud_installs_flagged"] > 0  # the generator injects fraud
    # spend: the cost of the install date in the KPI mart (latest pull, reporting currency, reconciled)
    spend = _one(client, "SELECT sum(cost) FROM marts.fct_cohort_kpis WHERE install_date = {d:Date} AND day_n = 0")
    assert spend > 0 and k["spend"] == pytest.approx(spend, rel=1e-9)
    assert k["ecpi"] == pytest.approx(spend / k["paid_installs"], rel=1e-9)
    size, active, immature = client.query("""
        SELECT sum(cohort_size), sum(active_users), countIf(retained_classic IS NULL) FROM marts.fct_cohort_retention
        WHERE install_date = {d:Date} AND day_mode = 'elapsed_24h' AND day_n = 1""",
                                          parameters={"d": DAY}).result_rows[0]
    assert immature == 0, "D1 of 2026-09-01 is mature (data to 2026-09-04)"
    assert size == k["paid_installs"] + k["organic_installs"] == k["d1_cohort_size"]  # cohorts: paid + organic
    assert k["d1_retention"] == pytest.approx(active / size, rel=1e-12) and 0 < k["d1_retention"] < 1
    revenue = _one(client, "SELECT sum(revenue) FROM marts.fct_revenue_events WHERE toDate(event_ts, 'UTC') = {d:Date}")
    assert k["revenue"] == pytest.approx(revenue, rel=1e-9) and revenue > 0


@pytest.mark.slow
def test_frames_agree_with_the_headline_and_each_other(client, report):
    net = growth_report.installs_by_network_frame(client, DAY, DAY)
    assert int(net["installs"].sum()) == report.kpis["new_installs"]
    assert int(net.loc[net["status"] == "organic", "installs"].sum()) == report.kpis["organic_installs"]
    assert set(net.loc[net["status"] == "organic", "network"]) == {"organic"}

    ret = growth_report.retention_frame(client, DAY, date(2026, 9, 2))
    assert set(ret["install_date"].astype(str)) == {"2026-09-01", "2026-09-02"}
    d1 = ret[(ret["install_date"].astype(str) == "2026-09-01") & (ret["day_n"] == 1)]
    assert d1["retention"].iloc[0] == pytest.approx(report.kpis["d1_retention"])
    assert ret.loc[ret["day_n"] == 0, "retention"].notna().all()
    assert ret.loc[ret["day_n"] == 14, "retention"].isna().all()  # never mature in 4 days of data

    roas = growth_report.roas_frame(client, DAY, DAY)
    # every cost row of the day is a paid campaign's (cost without installs too): the campaigns' spend is the day's
    assert roas.groupby("campaign")["spend"].max().sum() == pytest.approx(report.kpis["spend"], rel=1e-9)
    assert (roas["roas"].dropna() >= 0).all() and roas["roas"].notna().any()
    # ROAS_N over whole mature days: cumulative revenue never falls with N
    for campaign, curve in roas.dropna(subset=["roas"]).groupby("campaign"):
        assert curve.sort_values("day_n")["roas"].is_monotonic_increasing, campaign
    assert roas.loc[roas["day_n"] == 14, "roas"].isna().all()

    ctit = growth_report.ctit_frame(client, DAY, DAY)
    clicks = _one(client, """SELECT count() FROM marts.fct_install_matches
                             WHERE install_date = {d:Date} AND touch_type = 'click'""")
    assert len(ctit) == clicks > 0 and (ctit["ctit_s"] >= 0).all()

    credit = growth_report.credit_frame(client, DAY, DAY)
    heuristic = credit[credit["model"].isin(["last_touch", "first_touch", "linear"])]
    totals = heuristic.groupby("model")["credit"].sum()
    # every rule-based model credits each install conversion of the day once
    assert len(totals) == 3 and totals.max() == pytest.approx(totals.min(), rel=1e-9)


def _images(text: str) -> list[dict]:
    return [a for t, a in Page(text).tags if t == "img"]


def _assert_self_contained(text: str) -> None:
    page = Page(text)
    assert not re.search(r"https?://", text, re.I), re.search(r".{40}https?://.{40}", text, re.I)
    assert "<script" not in text.lower()
    for tag, attrs in page.tags:
        for name in ("src", "href", "action", "srcset", "poster", "data"):
            value = (attrs.get(name) or "").strip()
            assert not value or value.startswith(("data:image/png;base64,", "#")), (tag, name, value[:60])
    assert "<style>" in text and "<link" not in text.lower() and "@import" not in text and "url(" not in text


@pytest.mark.slow
def test_page_is_self_contained_and_every_image_is_an_inline_png(report):
    _assert_self_contained(report.html)
    images = _images(report.html)
    assert len(images) == 7  # network, heatmap, ROAS, CTIT, fraud score explanations, LTV backtest, credit
    for img in images:
        assert img["src"].startswith("data:image/png;base64,") and img.get("alt")
        with Image.open(io.BytesIO(base64.b64decode(img["src"].split(",", 1)[1]))) as im:
            assert im.format == "PNG" and im.size == (900, 450)
    headings = Page(report.html).headings
    assert headings[0] == f"Daily growth report — {DAY}"
    assert headings[1:] == list(growth_report.SECTIONS)
    assert f"{report.kpis['new_installs']:,}" in report.html
    assert f"{report.kpis['d1_retention']:.1%}" in report.html
    assert "no data for" not in report.html


@pytest.mark.slow
def test_a_day_without_installs_renders_and_says_so(client):
    empty = growth_report.build_report(client, EMPTY_DAY)
    assert not empty.has_data and empty.kpis["new_installs"] == 0 and empty.kpis["d1_retention"] is None
    assert f"no data for {EMPTY_DAY}" in empty.html
    _assert_self_contained(empty.html)
    assert Page(empty.html).headings[1:] == list(growth_report.SECTIONS)
    assert all(i["src"].startswith("data:image/png;base64,") for i in _images(empty.html))


@pytest.mark.slow
def test_values_are_escaped(client, monkeypatch):
    """A network name with markup in it reaches the page as text."""
    import pandas as pd

    evil = pd.DataFrame({"network": ["<img src=http://x/y.png>"], "status": ["attributed"], "installs": [3]})
    monkeypatch.setattr(growth_report, "installs_by_network_frame", lambda c, s, e: evil)
    text = growth_report.build_report(client, DAY).html
    assert "&lt;img src=http://x/y.png&gt;" in text and "<img src=http" not in text


@pytest.fixture(scope="module")
def cli_report(pipeline_run, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    out = tmp / "growth.html"
    env = {**_env(pipeline_run.settings.home), **settings_environ(pipeline_run.settings)}
    p = _cli(["report", "--date", DAY.isoformat(), "--out", str(out)], env, tmp)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == str(out)
    return out


@pytest.mark.slow
def test_cli_writes_the_report(cli_report, report):
    text = cli_report.read_text(encoding="utf-8")
    _assert_self_contained(text)
    assert Page(text).headings[1:] == list(growth_report.SECTIONS)
    assert f"{report.kpis['new_installs']:,}" in text
    assert len(_images(text)) == len(_images(report.html))
    # the CLI reads the run's local MLflow store: the registered models and their held-out metrics
    assert "Model registry (MLflow)" in text and "fraud_install_classifier" in text and "roc_auc" in text


@pytest.mark.slow
def test_report_renders_in_chromium_offline(cli_report):
    """Headless Chromium with every request that is not file: or data: aborted: no console error,
    no page error, no failed request, every image decoded, every section heading visible."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} not found: `make system-packages` installs chromium (or set UNMOGROWP_CHROMIUM)")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"growth_{DAY}.png"
    shot.unlink(missing_ok=True)
    console, errors, failed, requested = [], [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            context.route("**/*", lambda r: r.abort() if not r.request.url.startswith(("file:", "data:"))
                          else r.continue_())
            page = context.new_page()
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: failed.append(f"{r.url[:80]} {r.failure}"))
            page.on("request", lambda r: requested.append(r.url[:80]))
            page.goto(cli_report.as_uri(), wait_until="load")
            expect(page.get_by_role("heading", level=1)).to_have_text(f"Daily growth report — {DAY}")
            for title in growth_report.SECTIONS:
                expect(page.get_by_role("heading", level=2, name=title, exact=True)).to_be_visible()
            widths = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth, "
                                                      "e.naturalHeight])")
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert console == [] and errors == [] and failed == []
    assert all(u.startswith(("file:", "data:")) for u in requested), requested
    assert len(widths) == 7 and all(w == [True, 900, 450] for w in widths), widths
    with Image.open(shot) as im:
        assert im.size[0] == 1200 and im.size[1] > 3000  # the whole page, every section


def test_report_help_gives_every_option_its_format_and_default(tmp_path):
    p = _cli(["report", "--help"], _env(tmp_path / "home"), tmp_path, timeout=60)
    assert p.returncode == 0 and p.stderr == ""
    text = " ".join(p.stdout.split())
    assert "--date YYYY-MM-DD install date to report, UTC (required)" in text
    assert "(default: UNMOGROWP_HOME/reports/growth_YYYY-MM-DD.html)" in text


@pytest.mark.slow
def test_cli_out_ending_in_a_slash_is_a_directory(pipeline_run, tmp_path):
    env = {**_env(pipeline_run.settings.home), **settings_environ(pipeline_run.settings)}
    target = tmp_path / "reports"  # does not exist yet
    p = _cli(["report", "--date", DAY.isoformat(), "--out", f"{target}/"], env, tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == str(target / f"growth_{DAY.isoformat()}.html")
    assert target.is_dir() and (target / f"growth_{DAY.isoformat()}.html").stat().st_size > 10_000
