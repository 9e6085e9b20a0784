"""The dashboard in a real browser (Debian's chromium, headless) against real servers.

One browser for the module; the team server and ``modelport ui`` run over one
seeded SQLite workspace (the pages do not depend on the store: the store's own
suites cover PostgreSQL). Screenshots go to a temporary directory, or to
``MODELPORT_SCREENSHOTS`` when set (how docs/dashboard-*.png were made).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from dashboard_workspace import LAB, LAB_XSS, XSS, a_job, job_and_stream, seed
from modelport.config import Settings
from modelport.core.keys import create_key
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from modelport.interfaces.team import create_app
from modelport.lifecycle.tracking import create_run
from services import require_service
from team_server import serving, team_server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = Path(os.environ.get("MODELPORT_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, iris: Any) -> Iterator[dict[str, Any]]:
    """The team server and ``modelport ui`` over one seeded workspace, with an admin and a
    read key; a second project (lab) with a run, a job and a stream named in markup, and a
    key limited to it."""
    settings = Settings(home=tmp_path_factory.mktemp("dashboard") / "home")
    ws = Workspace.open(settings)
    ids = seed(ws, iris)
    job_and_stream(ws, "only-default")
    lab = Workspace.open(dataclasses.replace(settings, project=LAB))
    create_run(name=LAB_XSS, experiment=LAB, ws=lab).end()
    job_and_stream(lab, LAB_XSS, "labmodel")
    _, reader = create_key("reader", ["read"], ws=ws)
    _, lab_reader = create_key("lab reader", ["read"], ws=ws, projects=[LAB])
    with team_server(settings) as (url, admin), serving(create_app(ws, local=True)) as local:
        yield {"url": url, "admin": admin, "reader": reader, "lab_reader": lab_reader,
               "local": local, "ids": ids, "ws": ws, "lab": lab}
    forget_stores()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        require_service("chromium", "it is not installed: apt-get install -y chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_page(browser: Browser, **options: Any) -> Page:
    page = browser.new_page(**options)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # script errors only: a refused request (401 before login, 400 for a bad filter) is
    # logged by the browser too, and the page shows those itself
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            and not m.text.startswith("Failed to load resource") else None)
    page.errors = errors  # type: ignore[attr-defined]
    return page


def login(page: Page, url: str, key: str, runs: int = 3) -> None:
    page.goto(url + "/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("table.runs tbody tr")).to_have_count(runs)


def names(page: Page) -> list[str]:
    return page.locator("table.runs tbody tr td:nth-child(2)").all_text_contents()


def test_runs_sort_filter_with_completion_and_compare(browser: Browser, site: dict[str, Any],
                                                      shots: Path) -> None:
    page = open_page(browser, viewport={"width": 1280, "height": 800})
    login(page, site["url"], site["admin"])
    runs = site["ws"].store.runs.get_runs(list(site["ids"].values()))
    by_loss = [r.name for r in sorted(runs, key=lambda r: -r.metrics["loss"])]

    page.get_by_role("button", name="loss").click()
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("loss")
    expect(page.locator("table.runs tbody tr td:nth-child(2)").first).to_have_text(by_loss[0])
    assert names(page) == by_loss
    page.get_by_role("button", name="loss").click()
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("loss")
    expect(page.locator("table.runs tbody tr td:nth-child(2)").first).to_have_text(by_loss[-1])
    assert "order=metrics.loss" in page.url

    box = page.get_by_role("combobox", name="Filter runs")
    box.fill("metrics.acc")
    expect(page.get_by_role("option", name="metrics.accuracy")).to_be_visible()
    box.press("ArrowDown")
    box.press("Enter")
    expect(box).to_have_value("metrics.accuracy ")
    box.press_sequentially("> 0.75")
    box.press("Enter")
    expect(page.locator("table.runs tbody tr")).to_have_count(2)
    assert sorted(names(page)) == ["baseline", "wide"]
    box.fill("metrics.nope >")
    box.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("cannot parse filter")
    expect(page.locator("table.runs tbody tr")).to_have_count(2)  # the last good page stays
    box.fill("")
    box.press("Enter")
    expect(page.locator("table.runs tbody tr")).to_have_count(3)
    page.screenshot(path=shots / "dashboard-runs.png")

    page.get_by_label("Select run baseline").check()
    page.get_by_label("Select run wide").check()
    page.get_by_role("button", name="Compare (2)").click()
    expect(page.get_by_role("heading", name="Compare 2 runs")).to_be_visible()
    charts = page.locator("figure.chart svg")
    expect(charts).to_have_count(2)  # accuracy and loss
    expect(page.locator("figure.chart").first.locator("polyline")).to_have_count(2)
    points = page.locator("figure.chart").first.locator("polyline").first.get_attribute("points")
    assert points is not None and len(points.split()) == 300  # 300 steps fit in the width
    expect(page.locator(".scatter circle")).to_have_count(2)
    expect(page.locator("tr.differ th")).to_contain_text(["accuracy", "loss"])
    page.screenshot(path=shots / "dashboard-compare.png", full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_markup_in_names_and_tags_is_text_and_a_write_key_sets_a_tag(
        browser: Browser, site: dict[str, Any], shots: Path) -> None:
    page = open_page(browser)
    login(page, site["url"], site["admin"])
    expect(page.get_by_role("link", name=XSS)).to_be_visible()  # shown as its characters
    page.get_by_role("link", name=XSS).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(XSS)
    expect(page.get_by_role("cell", name=XSS)).to_have_count(1)  # the 'note' tag
    assert page.locator("main script, main img").count() == 0
    assert page.evaluate("window.__xss") is None

    page.once("dialog", lambda d: (d.message.startswith("Set tag reviewed = <b>yes</b>")
                                   and d.accept()) or d.dismiss())
    page.get_by_label("Tag", exact=True).fill("reviewed")
    page.get_by_label("Value").fill("<b>yes</b>")
    page.get_by_role("button", name="Set tag").click()
    expect(page.get_by_role("cell", name="<b>yes</b>")).to_be_visible()
    run = site["ws"].store.runs.get_runs([site["ids"][XSS]])[0]
    assert run.tags["reviewed"] == "<b>yes</b>"
    assert page.locator("main b").count() == 0 and page.evaluate("window.__xss") is None
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_a_run_page_and_the_models_with_lineage_and_an_alias_move(
        browser: Browser, site: dict[str, Any], shots: Path) -> None:
    page = open_page(browser, viewport={"width": 1280, "height": 900})
    login(page, site["url"], site["admin"])
    page.get_by_role("navigation").get_by_role("link", name="Models").click()
    expect(page.get_by_role("cell", name="champion → v1")).to_be_visible()
    page.get_by_role("link", name="iris").click()
    page.locator("#v1 summary").click()
    page.screenshot(path=shots / "dashboard-model.png", full_page=True)

    dialogs: list[str] = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.get_by_label("Alias").fill("champion")
    page.get_by_label("to").select_option("2")
    page.get_by_role("button", name="Move alias").click()
    expect(page.locator("dd .chip")).to_have_text("champion → v2")
    assert dialogs == ["Move alias champion of iris from v1 to v2?"]

    page.locator("#v1 summary").click()
    page.locator("#v1").get_by_role("link", name=site["ids"]["baseline"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("baseline")
    for fact in ("Dataset digest", "Git commit"):
        assert page.locator("dt", has_text=fact).locator("+ dd code").count() == 1
    expect(page.get_by_role("cell", name="model/weights.bin")).to_be_visible()
    expect(page.locator("figure.chart svg")).to_have_count(2)
    page.get_by_text("Every step (300)").first.click()
    expect(page.locator("figure.chart").first.locator("details tbody tr")).to_have_count(300)
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_a_read_key_sees_no_write_action_and_the_server_refuses_one(
        browser: Browser, site: dict[str, Any]) -> None:
    page = open_page(browser)
    login(page, site["url"], site["reader"])
    expect(page.locator("#who")).to_have_text("reader · read")
    page.goto(f"{site['url']}/#/runs/{site['ids']['baseline']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("baseline")
    expect(page.get_by_role("button", name="Set tag")).to_have_count(0)
    page.goto(f"{site['url']}/#/models/iris")
    expect(page.get_by_role("heading", name="Versions")).to_be_visible()
    expect(page.get_by_role("button", name="Move alias")).to_have_count(0)
    status = page.evaluate("""async () => (await fetch('/api/v1/models/iris/aliases/x', {
        method: 'PUT', headers: {'X-API-Key': sessionStorage.getItem('modelport.key'),
        'Content-Type': 'application/json'}, body: '{"version": 1}'})).status""")
    assert status == 403
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0 and page.context.cookies() == []
    page.close()


def test_modelport_ui_needs_no_key_on_loopback_dark_and_on_a_phone(
        browser: Browser, site: dict[str, Any], shots: Path) -> None:
    page = open_page(browser, color_scheme="dark", viewport={"width": 390, "height": 844},
                     device_scale_factor=2, is_mobile=True, has_touch=True)
    page.goto(site["local"] + "/#/runs")
    expect(page.locator("table.runs tbody tr")).to_have_count(3)
    expect(page.locator("#who")).to_have_text("local workspace")
    expect(page.get_by_label("Project").locator("option")).to_have_count(2)  # every project
    assert page.get_by_role("button", name="Log out").is_hidden()
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(20, 22, 26)"  # the dark palette
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways page
    page.screenshot(path=shots / "dashboard-phone-dark.png")
    page.keyboard.press("Tab")  # the brand link first, then the page links: keyboard order
    assert page.evaluate("document.activeElement.textContent") == "modelport"
    assert re.search(r"Runs 1–3", page.locator("[role=status]").first.text_content() or "")
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_a_key_limited_to_a_project_sees_it_alone_on_every_page_its_markup_as_text(
        browser: Browser, site: dict[str, Any]) -> None:
    page = open_page(browser)
    sent: list[tuple[str, str | None]] = []  # every API call and the project it named
    page.on("request", lambda r: sent.append((r.url, r.headers.get("x-modelport-project")))
            if "/api/v1/" in r.url else None)
    login(page, site["url"], site["lab_reader"], runs=1)
    picker = page.get_by_label("Project")
    expect(picker.locator("option")).to_have_text(["lab (1 run, 1 job, 1 stream)"])
    expect(page.get_by_role("link", name=LAB_XSS)).to_be_visible()
    assert page.url.endswith("/?project=lab")
    # (studies: their first read opens the Optuna storage, seconds; test_dashboard_api's
    # limited-key test reads their list as the page does)
    for fragment, heading, shown in (
            ("#/models", "Models", "No models yet"),
            ("#/endpoints", "Endpoints", "No endpoints yet"), ("#/jobs", "Jobs", LAB_XSS),
            ("#/streams", "Streams", LAB_XSS), ("#/devices", "Edge devices", "No devices"),
            ("#/monitor", "Monitoring", "No monitoring reports")):
        page.get_by_role("navigation").locator(f"a[href='{fragment}']").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page.locator("main")).to_contain_text(shown)
        assert page.url.endswith(f"/?project=lab{fragment}")
        if fragment == "#/jobs":  # the page follows lab's changes, and only lab's
            a_job(site["ws"], "later-default")
            a_job(site["lab"], "later-lab", "labmodel")
            expect(page.locator("main")).to_contain_text("later-lab")
        for other in ("default", "baseline", "iris"):
            assert other not in (page.locator("main").text_content() or ""), fragment
    # every call about a project names lab, the feed's too (who the key is and which
    # projects it reaches come first, about no project)
    about = {p for url, p in sent if not url.endswith(("/api/v1/whoami", "/api/v1/projects"))}
    assert about == {LAB}, sent
    assert any("/api/v1/feed" in url for url, _ in sent)

    # a link naming a project the key does not reach, or markup for one, shows lab
    for asked in ("default", "<img src=x onerror=window.__xss=6>"):
        page.goto(f"{site['url']}/?project={quote(asked)}#/runs")
        expect(page.get_by_role("alert")).to_have_text(
            "The link names a project this key does not reach: showing lab.")
        expect(page.locator("table.runs tbody tr")).to_have_count(1)
        assert page.url.endswith("/?project=lab#/runs")
    assert page.locator("img, script:not([src])").count() == 0
    assert page.evaluate("window.__xss") is None
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_the_picker_switches_project_and_the_url_and_storage_keep_it(
        browser: Browser, site: dict[str, Any], shots: Path) -> None:
    page = open_page(browser, viewport={"width": 1280, "height": 800})
    login(page, site["url"], site["admin"])
    picker = page.get_by_label("Project")
    expect(picker.locator("option")).to_have_text([  # (the other test may add jobs)
        re.compile(r"default \(3 runs, 1 model, \d jobs?, 1 stream\)"),
        re.compile(r"lab \(1 run, \d jobs?, 1 stream\)")])
    expect(picker).to_have_value("default")
    page.goto(f"{site['url']}/#/streams")
    expect(page.get_by_role("rowheader", name="only-default")).to_be_visible()
    picker.select_option(LAB)  # a fresh page of lab's, on the page it was on
    expect(page.get_by_role("rowheader", name=LAB_XSS)).to_be_visible()
    expect(page.get_by_role("rowheader", name="only-default")).to_have_count(0)
    assert page.url.endswith("/?project=lab#/streams")
    page.screenshot(path=shots / "dashboard-projects.png")

    page.goto(f"{site['url']}/#/runs")  # no project in the URL: the remembered one
    expect(page.locator("table.runs tbody tr")).to_have_count(1)
    expect(picker).to_have_value(LAB)
    page.goto(f"{site['url']}/?project=default#/runs")  # a shared link wins, and is kept
    expect(page.locator("table.runs tbody tr")).to_have_count(3)
    assert page.evaluate("localStorage.getItem('modelport.project')") == "default"
    page.evaluate("localStorage.setItem('modelport.project', 'gone')")
    page.goto(f"{site['url']}/#/runs")  # remembered but no longer listed: default
    expect(page.locator("table.runs tbody tr")).to_have_count(3)
    expect(picker).to_have_value("default")
    expect(page.get_by_role("alert")).to_be_hidden()

    page.get_by_role("button", name="Log out").click()  # the next key, in the same tab
    expect(picker).to_be_hidden()
    page.get_by_label("API key").fill(site["lab_reader"])
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("table.runs tbody tr")).to_have_count(1)
    expect(picker.locator("option")).to_have_count(1)
    expect(picker).to_have_value(LAB)
    page.get_by_role("combobox", name="Filter runs").fill("metrics.")
    expect(page.get_by_role("option", name="metrics.accuracy")).to_have_count(0)  # default's
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()
