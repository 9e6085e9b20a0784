"""The dashboard's operations pages in a real browser: jobs (live from the change feed),
streams, edge devices, monitoring, an artifact download and parallel coordinates.

The workspace is made by the library (a batch job over drifted traffic, a recorded
monitoring report, a search's trials, a stream's heartbeats and checkpoint, devices'
retained MQTT statuses swept by the fleet recorder) and served by the team server and
``modelport ui``. Screenshots go where ``MODELPORT_SCREENSHOTS`` says, else a temp dir.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from test_dashboard_browser import browser, open_page, shots  # noqa: F401

from dashboard_ops_workspace import (
    HOSTILE,
    SCRIPT,
    SHIFTED,
    seed_fleet,
    seed_ops,
    unique_prefix,
)
from modelport.config import Settings
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from modelport.interfaces.team import create_app
from modelport.lifecycle.search import search_runs
from services import require_service
from team_server import serving, team_server

BROKER = ("127.0.0.1", 1883)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, iris: Any) -> Iterator[dict[str, Any]]:
    try:
        socket.create_connection(BROKER, timeout=2).close()
    except OSError as exc:
        require_service("Mosquitto", f"nothing listens on 127.0.0.1:1883 ({exc})")
    from modelport_edge.mqtt import Broker, collect_retained, publish_retained

    tmp = tmp_path_factory.mktemp("ops")
    settings = Settings(home=tmp / "home")
    ws = Workspace.open(settings)
    made = seed_ops(ws, iris, tmp)
    prefix = unique_prefix()
    broker = f"mqtt://{BROKER[0]}:{BROKER[1]}"
    made["devices"] = seed_fleet(ws, broker, prefix)
    try:
        with team_server(settings) as (url, admin), \
                serving(create_app(ws, local=True)) as local:
            yield {"url": url, "admin": admin, "local": local, "ws": ws, **made}
    finally:
        for topic in collect_retained(Broker.parse(broker), f"{prefix}/#", 0.5):
            publish_retained(Broker.parse(broker), topic, None)
        forget_stores()


def open_as_admin(browser: Browser, site: dict[str, Any], hash_: str, **options: Any) -> Page:  # noqa: F811
    page = open_page(browser, **options)
    page.goto(site["url"] + "/")
    page.get_by_label("API key").fill(site["admin"])
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("table.runs")).to_be_visible()
    page.goto(site["url"] + "/" + hash_)
    return page


def no_markup_ran(page: Page) -> None:
    assert page.evaluate("window.__xss") is None
    assert page.locator("main img, main script, main b").count() == 0
    assert page.errors == []  # type: ignore[attr-defined]


def test_jobs_update_live_from_the_change_feed(browser: Browser, site: dict[str, Any],  # noqa: F811
                                               shots: Path) -> None:  # noqa: F811
    from modelport.runtimes.batch import jobs

    page = open_as_admin(browser, site, "#/jobs", viewport={"width": 1280, "height": 800})
    done = page.locator(f"tr[data-job='{site['job']}']")
    expect(done).to_contain_text("succeeded")
    expect(done).to_contain_text("600 rows")
    search = page.get_by_role("row", name="search tune 3")
    expect(search).to_contain_text("1 running")

    ws = site["ws"]
    job = jobs.create_job("predict", "iris", 1, SCRIPT, "out/", {"expected_rows": 5000},
                          ws=ws)  # a new job, as batch predict records it
    row = page.locator(f"tr[data-job='{job.id}']")
    expect(row).to_contain_text("running", timeout=10_000)
    expect(row.get_by_text(SCRIPT)).to_be_visible()  # the input path, as text
    jobs.update_progress(job.id, 2500, 7, 3, ws=ws)
    expect(row).to_contain_text("2500 rows, 7 failed · 3 parts", timeout=10_000)
    bar = row.locator("progress")
    assert (bar.get_attribute("value"), bar.get_attribute("max")) == ("2507", "5000")
    page.screenshot(path=shots / "dashboard-jobs.png", full_page=True)
    jobs.finish_job(job.id, "failed", "disk full", ws=ws)
    expect(row).to_contain_text("disk full", timeout=10_000)
    expect(row.locator(".chip")).to_have_text("failed")

    checked = page.locator(f"tr[data-job='{site['monitor_job']}']")  # monitor --record
    for text in ("monitor", "iris", "600 logged rows", "report", "2 drifted"):
        expect(checked).to_contain_text(text)
    expect(checked.get_by_role("link", name="run", exact=True)).to_have_attribute(
        "href", f"#/runs/{site['monitor_run']}")
    turn = jobs.create_job("monitor", "iris", 1, "prediction logs", "-",
                           {"target": SCRIPT}, ws=ws)  # a loop's turn, any target text
    row = page.locator(f"tr[data-job='{turn.id}']")
    expect(row).to_contain_text("running", timeout=10_000)
    jobs.finish_job(turn.id, "succeeded", rows=569, ws=ws, result={
        "action": "canary", "drifted": [f"iris:1 {SCRIPT}"], "challenger": "iris:2",
        "champion_score": 0.61, "challenger_score": 0.93, "metric": "accuracy",
        "run_id": site["monitor_run"]})
    for text in ("canary", "1 drifted", "iris:2 0.93 vs champion 0.61 (accuracy)",
                 "569 logged rows", SCRIPT):
        expect(row).to_contain_text(text, timeout=10_000)
    no_markup_ran(page)
    page.close()


def test_streams_and_devices_show_health_drift_canaries_and_rollbacks(
        browser: Browser, site: dict[str, Any], shots: Path) -> None:  # noqa: F811
    from modelport.runtimes.stream import progress

    ws = site["ws"]
    seeded = ws.store.streams.get_stream(SCRIPT, "c1")
    progress.heartbeat(SCRIPT, "c1", seeded.stats, ws=ws)  # alive: a heartbeat just now
    page = open_as_admin(browser, site, "#/streams", viewport={"width": 1400, "height": 700})
    row = page.locator("table.streams tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("th")).to_have_text(SCRIPT)
    for text in ("iris:1", "running", "1200", "250.5", "17", "accuracy 0.93",
                 "error ×1", f"{SHIFTED} ×2", "1200 events, 800 labels"):
        expect(row).to_contain_text(text)
    page.screenshot(path=shots / "dashboard-streams.png", full_page=True)
    # a consumer silent for a minute is shown as lost (the page re-reads every 2 s)
    ws.store.streams.start_stream(SCRIPT, "c2", "iris:1", {}, now=time.time() - 60)
    expect(page.locator("table.streams tbody tr").nth(1)).to_contain_text("lost",
                                                                         timeout=10_000)
    no_markup_ran(page)

    page.get_by_role("navigation").get_by_role("link", name="Devices").click()
    expect(page.locator("table.devices tbody tr")).to_have_count(2)
    canary = page.locator("tr[data-device='shop/till-1']")
    expect(canary).to_contain_text("canary")
    expect(canary).to_contain_text("iris:2")
    back = page.locator("table.devices tbody tr").filter(has=page.get_by_role(
        "rowheader", name=HOSTILE, exact=True))
    expect(back).to_contain_text("fallback")
    expect(back).to_contain_text("rolled_back")
    expect(back).to_contain_text("unhealthy during check: smoke rows differ")
    expect(back.locator("td.number").first).to_have_text("1")  # one rollback
    expect(page.get_by_role("status")).to_contain_text("2 devices in 1 group · 1 in a canary")
    page.screenshot(path=shots / "dashboard-devices.png", full_page=True)
    no_markup_ran(page)
    page.close()


def test_monitoring_shows_the_drifted_feature_and_downloads_the_html_report(
        browser: Browser, site: dict[str, Any], shots: Path) -> None:  # noqa: F811
    page = open_as_admin(browser, site, "#/monitor", viewport={"width": 1280, "height": 900})
    report = page.locator("article[data-version='iris:1']")
    expect(report).to_be_visible()
    drifted = report.locator("tr.drifted")
    # that feature, and only it — and the predictions, which it moves
    expect(drifted.locator("th")).to_have_text([SHIFTED, "(prediction)"])
    expect(drifted.first).to_contain_text("drift")
    expect(report).to_contain_text("600 rows in")
    expect(report.locator("tr[data-column='sepal width (cm)']")).to_contain_text("ok")

    run = site["ws"].store.runs.get_runs([site["monitor_run"]])[0]
    with page.expect_download() as info:
        page.get_by_role("button", name="Download report.html").click()
    saved = Path(info.value.path())
    assert saved.read_bytes() == site["ws"].artifacts.get(run.artifacts["monitor/report.html"])
    assert info.value.suggested_filename == "report.html"
    page.screenshot(path=shots / "dashboard-monitor.png", full_page=True)
    no_markup_ran(page)
    page.close()


def test_a_run_artifact_downloads_whole_and_compare_draws_parallel_coordinates(
        browser: Browser, site: dict[str, Any], shots: Path) -> None:  # noqa: F811
    ws = site["ws"]
    run = ws.store.runs.get_runs([site["monitor_run"]])[0]
    page = open_as_admin(browser, site, f"#/runs/{run.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("monitor-iris")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download report.json").click()
    assert Path(info.value.path()).read_bytes() == ws.artifacts.get(
        run.artifacts["monitor/report.json"])

    trials = search_runs(experiment="search", ws=ws).runs
    ids = ",".join(r.id for r in trials)
    page.goto(f"{site['url']}/#/compare?ids={ids}")
    expect(page.get_by_role("heading", name="Compare 3 runs")).to_be_visible()
    chart = page.locator("svg.parallel")
    expect(chart.locator("g.lines path")).to_have_count(3)
    expect(chart.locator("g.axes line")).to_have_count(2)  # param C, metric accuracy
    assert all(len(d.split("L")) == 2 for d in chart.locator("g.lines path").evaluate_all(
        "paths => paths.map(p => p.getAttribute('d'))"))  # each line crosses both axes
    page.screenshot(path=shots / "dashboard-parallel.png", full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_modelport_ui_follows_jobs_without_a_key(browser: Browser, site: dict[str, Any]  # noqa: F811
                                                 ) -> None:
    from modelport.runtimes.batch import jobs

    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(site["local"] + "/#/jobs")
    expect(page.locator(f"tr[data-job='{site['job']}']")).to_contain_text("succeeded")
    job = jobs.create_job("forecast", "iris", 1, "history", "out/", {}, ws=site["ws"])
    expect(page.locator(f"tr[data-job='{job.id}']")).to_contain_text("forecast",
                                                                      timeout=10_000)
    jobs.finish_job(job.id, "succeeded", ws=site["ws"])
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 or \
        page.locator("nav").bounding_box()["width"] <= 390  # type: ignore[index]
    page.close()
