"""The Dagster UI in a browser (Playwright driving Debian's chromium) on the shared deployment:
materialize one partition of bronze_events from the launch dialog, then a range as a backfill.

Screenshots of every step go to UNMOGROWP_TEST_ARTIFACTS (default `test-artifacts/ui/`).
"""

import os
import re
import shutil
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import REPO
from tests.orchestration.conftest import BACKFILL_HOURS, RUN_TIMEOUT_S, UI_HOUR, landing_lines

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("UNMOGROWP_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("UNMOGROWP_TEST_ARTIFACTS") or REPO / "test-artifacts" / "ui")
UI_TIMEOUT_MS = 60_000  # the first page load compiles the UI's GraphQL queries over the whole asset graph
MATERIALIZE = re.compile(r"Materialize(…|\.\.\.)")  # the button's name also holds its icon's label
FIRST_PARTITION = "2026-09-01-00:00"  # UNMOGROWP_PARTITIONS_START: the left end of the dialog's partition bar
BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


class Ui:
    """One browser page on the deployment; each step leaves a numbered screenshot."""

    def __init__(self, page, artifacts: Path):
        self.page, self.artifacts, self.n = page, artifacts, 0

    def shot(self, name: str) -> Path:
        self.n += 1
        path = self.artifacts / f"{self.n:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    @contextmanager
    def step(self, name: str):
        """A step of the scenario: a screenshot after it, or a failure naming the step and its screenshot."""
        try:
            yield
        except Exception as e:  # Playwright timeouts and expect() failures alike
            try:
                path = self.shot(f"{name}-FAILED")
            except Exception as shot_error:  # report the step's error, not the screenshot's
                path = f"(no screenshot: {shot_error})"
            pytest.fail(f"UI step '{name}' failed at {self.page.url}: {e}\nscreenshot: {path}")
        self.shot(name)


@pytest.fixture(scope="module")
def browser():
    """Headless chromium from the system (Playwright cannot download its own browsers here)."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} not found: `make system-packages` installs chromium (or set UNMOGROWP_CHROMIUM)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def ui(browser, stack, request):
    artifacts = ARTIFACTS / request.node.name
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    context = browser.new_context(base_url=stack.url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    yield Ui(page, artifacts)
    context.close()


def open_launch_dialog(ui: Ui, stack, partitions: str, count: str):
    """Asset graph → bronze_events → its page → Materialize… → the partitions typed in the dialog."""
    from playwright.sync_api import expect

    page = ui.page
    with ui.step("asset-graph"):
        page.goto(f"/locations/{quote(stack.location)}/asset-groups/ingest/lineage")
        page.get_by_text("bronze_events", exact=True).first.click()  # the node: selects it, opens the sidebar
        expect(page.get_by_role("link", name="View in Asset Catalog")).to_be_visible()
    with ui.step("asset-page"):
        page.get_by_role("link", name="View in Asset Catalog").click()
        page.wait_for_url("**/assets/bronze_events")
        expect(page.get_by_role("button", name=MATERIALIZE).first).to_be_visible()
    with ui.step("launch-dialog"):
        page.get_by_role("button", name=MATERIALIZE).first.click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("Launch runs to materialize bronze_events")
        # the dialog offers the last 90 days once it has loaded the keys (ours are older): pick all time
        dialog.get_by_role("button", name=re.compile(r"All time|Last 90 days")).click()
        page.get_by_role("menuitem", name="All time").click()
        expect(dialog.get_by_role("button", name=re.compile(r"All time"))).to_be_visible()
        expect(dialog.get_by_text(FIRST_PARTITION, exact=True)).to_be_visible()  # the keys have loaded
    with ui.step("partitions-selected"):
        box = dialog.locator("input[type=text]").first
        box.fill(partitions)
        box.press("Enter")
        expect(dialog.get_by_text(count, exact=True)).to_be_visible()
    return dialog


def _toast_link(ui: Ui, message: str, prefix: str):
    """The View button on the toast that says ``message``, and its target."""
    from playwright.sync_api import expect

    toast = ui.page.locator("li").filter(has_text=message)
    expect(toast).to_be_visible()
    link = toast.get_by_role("link", name="View", exact=True)
    href = link.get_attribute("href")
    assert href and href.startswith(prefix), href
    return link, href


def _follow_toast(ui: Ui, message: str, prefix: str, step: str) -> str:
    """Opens the page the toast saying ``message`` links to (a screenshot ``step``); returns its id."""
    view, href = _toast_link(ui, message, prefix)
    with ui.step(step):
        view.click()
        ui.page.wait_for_url(f"**{href}")
    return href.rsplit("/", 1)[1]


def _partitions_materialized(stack, run_id: str) -> list[str]:
    import dagster as dg

    events = stack.instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    return sorted(e.asset_materialization.partition for e in events
                  if e.asset_materialization.asset_key == dg.AssetKey("bronze_events"))


def test_materialize_one_partition_from_the_ui(ui, stack):
    """Materialize… with one partition key launches one run of that partition; the UI follows it to Success."""
    import dagster as dg
    from playwright.sync_api import expect

    dialog = open_launch_dialog(ui, stack, UI_HOUR, "1 partition")
    with ui.step("launched"):
        dialog.get_by_role("button", name="Launch 1 run").click()
    run_id = _follow_toast(ui, "Launched run", "/runs/", "run-page")
    run = stack.assert_success(run_id)
    with ui.step("run-succeeded"):
        expect(ui.page.get_by_text("Success", exact=True).first).to_be_visible()
        expect(ui.page.get_by_text("RUN_SUCCESS").first).to_be_visible()

    assert run.tags["dagster/partition"] == UI_HOUR and run.tags.get("dagster/from_ui") == "true"
    assert stack.materializations(run_id)["bronze_events"]["lines"] == landing_lines(stack.landing, [UI_HOUR]) > 0
    assert _partitions_materialized(stack, run_id) == [UI_HOUR]
    assert UI_HOUR in stack.instance.get_materialized_partitions(dg.AssetKey("bronze_events"))
    assert all(stack.check_results(run_id).values())


def test_backfill_a_range_from_the_ui(ui, stack):
    """A range in the same dialog is a backfill; the single-run policy makes it one run over the range."""
    import dagster as dg
    from playwright.sync_api import expect

    first, last = BACKFILL_HOURS[0], BACKFILL_HOURS[-1]
    dialog = open_launch_dialog(ui, stack, f"[{first}...{last}]", f"{len(BACKFILL_HOURS)} partitions")
    with ui.step("backfill-launched"):
        expect(dialog).to_contain_text("Backfills all partitions in a single run")
        dialog.get_by_role("button", name="Launch backfill").click()
    backfill_id = _follow_toast(ui, "Created backfill", "/runs/b/", "backfill-page")

    deadline = time.monotonic() + RUN_TIMEOUT_S
    while (backfill := stack.instance.get_backfill(backfill_id)).status.value not in BACKFILL_DONE:
        if time.monotonic() > deadline:
            pytest.fail(f"backfill {backfill_id} still {backfill.status.value} after {RUN_TIMEOUT_S} s\n{stack.logs()}")
        time.sleep(1)
    runs = stack.runs(**{"dagster/backfill": backfill_id})
    assert len(runs) == 1, [r.run_id for r in runs]
    [run] = runs
    run = stack.assert_success(run.run_id)
    assert backfill.status.value == "COMPLETED_SUCCESS", backfill
    with ui.step("backfill-completed"):
        ui.page.reload()
        expect(ui.page.get_by_text("Succeeded", exact=True).first).to_be_visible()

    assert (run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"]) == \
        (first, last)
    assert stack.materializations(run.run_id)["bronze_events"]["lines"] == landing_lines(stack.landing,
                                                                                          BACKFILL_HOURS) > 0
    assert _partitions_materialized(stack, run.run_id) == sorted(BACKFILL_HOURS)
    assert set(BACKFILL_HOURS) <= stack.instance.get_materialized_partitions(dg.AssetKey("bronze_events"))


def test_a_mart_page_shows_its_partition_row_count_schema_and_picture(ui, stack):
    """After the hour is attributed (runs launched through GraphQL), the partition's page of
    fct_installs shows that hour's row count (ClickHouse's), the column types and the installs
    picture; the GX check on silver shows Passed for the hour."""
    from playwright.sync_api import expect

    for job, tags in (("ingest_events_job", {"dagster/partition": UI_HOUR}), ("dbt_setup_job", {}),
                      ("attribution_job", {"dagster/partition": UI_HOUR})):
        stack.assert_success(stack.client.submit_job_execution(job, tags=tags))
    start = datetime.strptime(UI_HOUR, "%Y-%m-%d-%H:%M")
    installs = stack.clickhouse().command(
        "SELECT count() FROM marts.fct_installs WHERE install_ts >= {s:DateTime64(3, 'UTC')} "
        "AND install_ts < {s:DateTime64(3, 'UTC')} + INTERVAL 1 HOUR", parameters={"s": start})
    assert installs > 0
    page = ui.page
    with ui.step("mart-columns"):
        page.goto("/assets/marts/attribution/fct_installs")
        columns = page.locator("table").filter(has_text="Column name")
        expect(columns.get_by_text("install_ts", exact=True)).to_be_visible()
        expect(columns.get_by_text("DateTime64(3, 'UTC')", exact=True).first).to_be_visible()
        expect(page.get_by_text("Owners")).to_be_visible()
        expect(page.get_by_text("analytics-engineering").first).to_be_visible()
    with ui.step("mart-partition"):
        page.goto(f"/assets/marts/attribution/fct_installs?view=partitions&partition={quote(UI_HOUR)}")
        row_count = page.locator("tr").filter(has=page.get_by_text("dagster/row_count", exact=True))
        expect(row_count).to_contain_text(f"{installs:,}".replace(",", "") if installs < 1000 else f"{installs:,}")
    with ui.step("mart-picture"):
        page.locator("tr").filter(has=page.get_by_text("installs_by_network", exact=True)) \
            .get_by_text("[Show Markdown]").click()
        picture = page.get_by_role("dialog").locator("img").first
        expect(picture).to_be_visible()
        assert picture.evaluate("i => i.src.startsWith('data:image/png') && i.complete && i.naturalWidth") >= 600
    with ui.step("check-partitions"):
        page.goto("/assets/silver_events?view=checks")
        expect(page.get_by_text("gx_silver_events", exact=True).first).to_be_visible()
        page.get_by_text("Partitions", exact=True).last.click()
        expect(page.get_by_text(re.compile(r"^Passed \([1-9]\d*\)$"))).to_be_visible()  # the hours checked so far
        expect(page.get_by_text("Failed (0)", exact=True)).to_be_visible()
