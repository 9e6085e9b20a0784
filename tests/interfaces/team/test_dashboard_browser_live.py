"""The endpoint, rollout and study pages in a real browser (Debian's chromium, headless).

One workspace holds models iris:1 and iris:2, a real tuning study (two objectives)
and a hand-made one with markup in its name and a param; a real ``modelport
serve`` process answers the endpoints and runs the rollout controller, a client
load calls it, and the team server the pages talk to reads the same store.
Screenshots go where ``test_dashboard_browser`` puts them (``MODELPORT_SCREENSHOTS``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from dashboard_workspace import XSS
from modelport.config import Settings
from modelport.control import rollout as ro
from modelport.core.keys import create_key
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from modelport.interfaces.team import create_app
from modelport.lifecycle.endpoints import get_endpoint
from modelport.lifecycle.studies import find_study
from releases import Load, new_endpoint, wait_state
from servers import Server, serving
from team_server import serving as serving_app
from team_server import team_server

pytest.importorskip("optuna")
# one browser and the screenshot folder, as the other dashboard tests have them
from test_dashboard_browser import browser, open_page, shots  # noqa: F401


def hostile_study(ws: Workspace) -> None:
    """Markup in the study's name and in a categorical param; three trials over two
    objectives, the third beaten by the second on both."""
    import optuna
    from optuna.distributions import CategoricalDistribution, IntDistribution
    from optuna.trial import create_trial

    from modelport.lifecycle.studies import rdb_storage
    from modelport.lifecycle.tracking import create_run

    study = optuna.create_study(study_name=XSS, storage=rdb_storage(ws),
                                directions=["maximize", "minimize"])
    dists = {"depth": IntDistribution(1, 9), "kind": CategoricalDistribution(["plain", XSS])}
    for depth, kind, values in [(2, "plain", [0.8, 1.0]), (5, XSS, [0.9, 3.0]),
                                (9, "plain", [0.85, 9.0])]:
        run = create_run(name=f"trial depth {depth}", ws=ws)
        run.end()
        study.add_trial(create_trial(params={"depth": depth, "kind": kind}, distributions=dists,
                                     values=values, user_attrs={"run_id": run.id}))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from sklearn.ensemble import RandomForestClassifier

    from modelport.lifecycle.datasets import load_dataset
    from modelport.lifecycle.registry import register_model
    from modelport.lifecycle.tune import tune

    home = tmp_path_factory.mktemp("dashboard-live") / "home"
    settings = Settings(home=home)
    ws = Workspace.open(settings)
    iris = load_dataset("sklearn:iris")
    X, y = iris.frame.drop(columns="target"), iris.frame["target"]
    for seed in (0, 1):  # two good versions: a canary that would pass every step
        register_model("iris", RandomForestClassifier(n_estimators=20, random_state=seed)
                       .fit(X, y), X=X, ws=ws)
    tune(iris, "target", "decision_tree", trials=10, cv=2, objectives=("score", "size"),
         study="tree-size", onnx=False, ws=ws)
    hostile_study(ws)
    _, reader = create_key("reader", ["read"], ws=ws)
    forget_stores()
    ws = Workspace.open(settings)
    # the data plane without keys (the load carries none); the pages use the team server
    with serving(home, "--auth", "off") as server, team_server(settings) as (url, admin), \
            serving_app(create_app(ws, local=True)) as local:
        yield {"url": url, "admin": admin, "reader": reader, "ws": ws, "server": server,
               "local": local}
    forget_stores()


def login(page: Page, url: str, key: str, where: str) -> None:
    page.goto(url + "/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#who")).not_to_be_empty()
    page.goto(f"{url}/{where}")


def test_studies_history_front_importances_and_trials_linked_to_runs(
        browser: Browser, site: dict[str, Any], shots: Path) -> None:  # noqa: F811
    page = open_page(browser, viewport={"width": 1280, "height": 900})
    login(page, site["url"], site["admin"], "#/runs")
    page.get_by_role("navigation").get_by_role("link", name="Studies").click()
    expect(page.locator("table tbody tr")).to_have_count(2)
    page.screenshot(path=shots / "dashboard-studies.png")
    page.get_by_role("link", name="tree-size").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("tree-size")
    expect(page.locator("table.trials tbody tr")).to_have_count(10)
    front = page.locator("svg .front-dot")
    expect(front).not_to_have_count(0)
    # the front the page marks is the one Optuna computes pair by pair
    pareto = {t.number for t in find_study("tree-size", ws=site["ws"]).best_trials}
    marked = page.locator("table.trials tbody tr", has_text="Pareto")
    assert {int(n) for n in marked.locator("td:first-child").all_text_contents()} == pareto
    assert front.count() == len(pareto)
    expect(page.locator("svg[aria-label^='Parameter importances'] rect")).not_to_have_count(0)
    expect(page.get_by_text("PED-ANOVA")).to_be_visible()
    expect(page.locator("svg[aria-label='accuracy by trial'] .trial-dot")).to_have_count(10)
    page.get_by_label("Objective", exact=True).first.select_option("1")
    expect(page.locator("svg[aria-label='size by trial'] .trial-dot")).to_have_count(10)
    page.screenshot(path=shots / "dashboard-study.png", full_page=True)
    first = page.locator("table.trials tbody tr").first.get_by_role("link")
    run_id = find_study("tree-size", ws=site["ws"]).trials[0].user_attrs["run_id"]
    first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("tree-size-0")
    assert run_id in page.url
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_markup_in_a_study_name_and_a_param_is_text(
        browser: Browser, site: dict[str, Any]) -> None:  # noqa: F811
    page = open_page(browser)
    login(page, site["url"], site["admin"], "#/studies")
    page.get_by_role("link", name=XSS).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(XSS)
    expect(page.get_by_role("cell", name=XSS)).to_have_count(1)  # trial 1's param 'kind'
    expect(page.locator("table.trials tbody tr", has_text="Pareto")).to_have_count(2)
    assert page.locator("main script, main img").count() == 0
    assert page.evaluate("window.__xss") is None
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def step_label(page: Page) -> Any:
    return page.locator("article.rollout").first.locator(".steps li[aria-current=step]")


def test_a_canary_advances_live_under_load_and_abort_sends_traffic_back(
        browser: Browser, site: dict[str, Any], shots: Path) -> None:  # noqa: F811
    server: Server = site["server"]
    ws: Workspace = site["ws"]
    new_endpoint(server, ws, "shop")
    page = open_page(browser, viewport={"width": 1280, "height": 1000})
    with Load(server.url, "shop", threads=3) as load:
        ro.start_canary("shop", "iris:2", [10, 30, 60, 90], interval_s=3,
                        thresholds={"min_requests": 15}, ws=ws)
        login(page, site["url"], site["admin"], "#/endpoints")
        row = page.locator("tr", has=page.get_by_role("link", name="shop"))
        expect(row).to_contain_text("canary of iris:2")
        page.screenshot(path=shots / "dashboard-endpoints.png")
        reads: list[str] = []  # the numbers are read once, then arrive on the feed
        page.on("request", lambda r: reads.append(r.url) if "/live?" in r.url else None)
        page.get_by_role("link", name="shop").click()
        expect(page.locator(".live")).to_have_text("● live")
        page.evaluate("window.__same_page = true")  # gone if anything reloaded the page
        expect(step_label(page)).to_have_text("10 %")
        expect(step_label(page)).to_have_text("30 %", timeout=30_000)  # the feed moved it
        expect(page.locator("tr[data-version='iris:2'] .rps")).not_to_have_text("0")
        expect(page.locator(".timeline .verdict.pass").first).to_be_visible()
        expect(step_label(page)).to_have_text("60 %", timeout=30_000)  # and on
        page.locator("article.rollout").first.locator(".analysis summary").first.click()
        expect(page.locator(".analysis table").first).to_contain_text("Requests")
        page.screenshot(path=shots / "dashboard-rollout.png", full_page=True)
        assert page.evaluate("window.__same_page") is True

        dialogs: list[str] = []
        page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
        page.get_by_role("button", name="Abort").click()
        expect(page.locator("article.rollout .state").first).to_have_text("aborted")
        assert dialogs == ["Abort the canary of iris:2 on endpoint shop? All traffic goes back "
                           "to iris:1 now."]
        aborted = wait_state(ws, "shop", ("aborted",), timeout=10)
        expect(page.locator("dd .chip").first).to_have_text("iris:1 100 %")
        # the canary's last requests leave the five-second window, and with them its row
        expect(page.locator("tr[data-version='iris:2']")).to_have_count(0, timeout=20_000)
        expect(page.locator("tr[data-version='iris:1'] .rps")).not_to_have_text("0")
        expect(page.get_by_role("button", name="Abort")).to_have_count(0)
    assert get_endpoint("shop", ws=ws).policy.routes[0].version == "iris:1"
    after = {v for t, _, v in load.results if t > aborted.updated + 1.0}
    assert after == {"iris:1"} and not load.failures
    assert all(status == 200 for _, status, _ in load.results)
    assert page.evaluate("window.__same_page") is True
    assert len(reads) == 1, reads
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_a_read_key_sees_no_button_and_the_server_refuses_it(
        browser: Browser, site: dict[str, Any], shots: Path) -> None:  # noqa: F811
    server: Server = site["server"]
    ws: Workspace = site["ws"]
    new_endpoint(server, ws, "quiet")
    ro.start_canary("quiet", "iris:2", [50, 100], interval_s=600, ws=ws)  # no load: it waits
    page = open_page(browser)
    login(page, site["url"], site["admin"], "#/endpoints/quiet")
    expect(page.locator("[data-action]")).to_have_count(4)  # pause, promote, abort, roll back
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    assert ro.latest_rollout("quiet", ws=ws).state == "paused"
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    assert dialogs == [
        "Pause the canary of iris:2 on endpoint quiet? Traffic stays split as it is now; no "
        "step moves until it is resumed.",
        "Resume the canary of iris:2 on endpoint quiet? Its analysis moves traffic again."]
    assert ro.latest_rollout("quiet", ws=ws).state == "running"
    page.close()

    page = open_page(browser, color_scheme="dark", viewport={"width": 390, "height": 844},
                     is_mobile=True, has_touch=True)
    login(page, site["url"], site["reader"], "#/endpoints/quiet")
    expect(page.locator(".steps li[aria-current=step]")).to_have_text("50 %")
    expect(page.locator("[data-action]")).to_have_count(0)
    page.screenshot(path=shots / "dashboard-endpoint-phone-dark.png", full_page=True)
    status = page.evaluate("""async () => (await fetch('/api/v1/endpoints/quiet/rollout/abort', {
        method: 'POST', headers: {'X-API-Key': sessionStorage.getItem('modelport.key'),
        'Content-Type': 'application/json'}, body: '{}'})).status""")
    assert status == 403
    assert ro.latest_rollout("quiet", ws=ws).state == "running"

    # a write key's reason is user data: it shows in the timeline as text
    answer = httpx.post(f"{site['url']}/api/v1/endpoints/quiet/rollout/abort",
                        headers={"X-API-Key": site["admin"]}, json={"reason": XSS})
    assert answer.status_code == 200, answer.text
    expect(page.locator(".timeline .reason").last).to_have_text(f"aborted {XSS}")
    assert page.locator("main script, main img").count() == 0
    assert page.evaluate("window.__xss") is None
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_modelport_ui_shows_the_same_pages_without_a_key(
        browser: Browser, site: dict[str, Any]) -> None:  # noqa: F811
    new_endpoint(site["server"], site["ws"], "solo")
    ro.start_canary("solo", "iris:2", [50, 100], interval_s=600, ws=site["ws"])
    ro.abort("solo", ws=site["ws"])
    page = open_page(browser)
    page.goto(site["local"] + "/#/studies")
    expect(page.locator("#who")).to_have_text("local workspace")
    page.get_by_role("link", name="tree-size").click()
    expect(page.locator("table.trials tbody tr")).to_have_count(10)
    page.get_by_role("navigation").get_by_role("link", name="Endpoints").click()
    page.get_by_role("link", name="solo").click()
    expect(page.locator(".live")).to_have_text("● live")  # the feed, with the local header
    expect(page.locator("article.rollout .state").first).to_have_text("aborted")
    expect(page.get_by_role("button", name="Roll back")).to_have_count(0)  # already back
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_a_shadow_shows_how_often_it_agrees(browser: Browser, site: dict[str, Any]) -> None:  # noqa: F811
    server: Server = site["server"]
    ws: Workspace = site["ws"]
    new_endpoint(server, ws, "mirror")
    ro.start_shadow("mirror", "iris:2", 100, ws=ws)
    page = open_page(browser, viewport={"width": 1280, "height": 800})
    with Load(server.url, "mirror", threads=2):
        login(page, site["url"], site["reader"], "#/endpoints/mirror")
        row = page.locator("tr[data-version='iris:2']")
        expect(row.locator("td").first).to_have_text("shadow")
        # both forests call the client's setosa row setosa: every mirrored answer agrees
        expect(row.locator("td").last).to_have_text("100 %", timeout=15_000)
        expect(page.locator("dd .chip.shadow")).to_have_text("shadow iris:2 100 %")
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()
