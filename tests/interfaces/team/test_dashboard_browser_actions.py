"""The model page's actions in a real browser (Debian's chromium, headless): export a
version to ONNX, start a rollout, and what a read key sees and may do.

One workspace holds iris:1 and iris:2 (forests, no ONNX copy) and endpoint ``shop``
serving iris:1; the pages talk to a real team server over it. Screenshots go where
``test_dashboard_browser`` puts them (``MODELPORT_SCREENSHOTS``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from modelport.config import Settings
from modelport.control import rollout as ro
from modelport.core.keys import create_key
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from team_server import team_server

pytest.importorskip("skl2onnx")
# one browser and the screenshot folder, as the other dashboard tests have them
from test_dashboard_browser import browser, open_page, shots  # noqa: F401
from test_dashboard_browser_live import login


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from sklearn.ensemble import RandomForestClassifier

    from modelport.lifecycle.datasets import load_dataset
    from modelport.lifecycle.endpoints import create_endpoint
    from modelport.lifecycle.registry import register_model

    settings = Settings(home=tmp_path_factory.mktemp("dashboard-actions") / "home")
    ws = Workspace.open(settings)
    iris = load_dataset("sklearn:iris")
    X, y = iris.frame.drop(columns="target"), iris.frame["target"]
    for seed in (0, 1):
        register_model("iris", RandomForestClassifier(n_estimators=10, random_state=seed)
                       .fit(X, y), X=X, ws=ws)
    create_endpoint("shop", "iris:1", ws=ws)
    many_trials(ws, 230)
    _, reader = create_key("reader", ["read"], ws=ws)
    forget_stores()
    ws = Workspace.open(settings)
    with team_server(settings) as (url, admin):
        yield {"url": url, "admin": admin, "reader": reader, "ws": ws}
    forget_stores()


def many_trials(ws: Workspace, n: int) -> None:
    """Study ``wide``: ``n`` complete trials of one minimized objective."""
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    from modelport.lifecycle.studies import rdb_storage

    study = optuna.create_study(study_name="wide", storage=rdb_storage(ws))
    dist = {"x": FloatDistribution(0.0, 1.0)}
    study.add_trials([create_trial(params={"x": i / n}, distributions=dist, value=(i % 17) / 3)
                      for i in range(n)])


def answering(page: Page, dialogs: list[str], accept: bool = True) -> None:
    """Note the next confirmation's text and answer it."""
    page.once("dialog", lambda d: (dialogs.append(d.message),
                                   d.accept() if accept else d.dismiss()))


def refused(page: Page, method: str, path: str, body: str | None = None) -> int:
    """The status the server answers the page's own key for ``method path``."""
    return int(page.evaluate("""async ([method, path, body]) => (await fetch(path, {method,
        headers: {'X-API-Key': sessionStorage.getItem('modelport.key'),
                  'Content-Type': 'application/json'}, body})).status""", [method, path, body]))


def test_export_onnx_from_the_model_page(
        browser: Browser, site: dict[str, Any], shots: Path) -> None:  # noqa: F811
    ws: Workspace = site["ws"]
    page = open_page(browser, viewport={"width": 1280, "height": 1000})
    login(page, site["url"], site["admin"], "#/models/iris")
    v2 = page.locator("details#v2")
    v2.locator("summary").click()
    expect(v2).to_contain_text("no copy — the native runtime serves it")
    dialogs: list[str] = []
    answering(page, dialogs, accept=False)  # cancelled: nothing happens
    v2.get_by_role("button", name="Export v2 to ONNX").click()
    assert ws.store.registry.get_version("iris", 2)["onnx"] is None

    answering(page, dialogs)
    v2.get_by_role("button", name="Export v2 to ONNX").click()
    copy = page.locator("details#v2 .onnx-copy")  # the page is re-read, v2 kept open
    expect(copy).to_be_visible(timeout=60_000)
    expect(copy).to_contain_text("checked copy")
    expect(copy).to_contain_text("labels agree 100 %")
    stored = ws.store.registry.get_version("iris", 2)["onnx"]
    assert stored["passed"] is True
    expect(copy.locator("code")).to_have_attribute("title", stored["digest"])
    expect(page.locator("details#v2").get_by_role("button", name="Export v2 to ONNX")) \
        .to_have_count(0)
    expect(page.locator("[data-action=export-onnx]")).to_have_count(1)  # v1 still may
    assert ws.store.registry.get_version("iris", 1)["onnx"] is None
    assert dialogs == ["Export iris:2 to ONNX? The server converts it, checks the copy predicts "
                       "what iris:2 does on its example and sample rows, and records the copy "
                       "on iris:2; serving then uses onnxruntime for it."] * 2
    page.screenshot(path=shots / "dashboard-model-actions.png", full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_start_a_canary_from_the_model_page_and_see_it_on_the_endpoint(
        browser: Browser, site: dict[str, Any]) -> None:  # noqa: F811
    ws: Workspace = site["ws"]
    page = open_page(browser, viewport={"width": 1280, "height": 1000})
    login(page, site["url"], site["admin"], "#/models/iris")
    form = page.get_by_role("form", name="Start a rollout")
    form.get_by_label("Version").select_option("2")
    form.get_by_label("onto endpoint").select_option("shop")
    expect(form.get_by_label("Steps (%)")).to_have_value("10, 50, 100")
    dialogs: list[str] = []
    answering(page, dialogs)
    form.get_by_role("button", name="Start rollout").click()
    started = page.get_by_role("status").filter(has_text="Started")
    expect(started).to_have_text("Started: canary of iris:2 over iris:1 on endpoint shop.")
    assert dialogs == ["Start a canary of iris:2 on endpoint shop: 10 % → 50 % → 100 %, a "
                       "step every 300 s?"]
    r = ro.latest_rollout("shop", ws=ws)
    assert (r.kind, r.state, r.candidate, r.config["steps"], r.config["interval_s"]) == \
        ("canary", "running", "iris:2", [10, 50, 100], 300)

    # a second rollout while this one runs: the server's 409 as one line, the page intact
    form.get_by_label("as").select_option("shadow")
    expect(form.get_by_label("Steps (%)")).to_be_hidden()
    form.get_by_label("Share mirrored (%)").fill("25")
    answering(page, dialogs)
    form.get_by_role("button", name="Start rollout").click()
    alert = page.locator("main > p.error[role=alert]")
    expect(alert).to_have_text("endpoint 'shop' already has a rollout in progress — see "
                               "modelport rollout status shop")
    assert dialogs[-1] == ("Start a shadow of iris:2 on endpoint shop: copy 25 % of requests "
                           "to it; iris:1 still answers every one?")
    expect(form).to_be_visible()

    started.get_by_role("link", name="endpoint shop").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("shop")
    expect(page.locator(".current")).to_have_text("canary of iris:2 · running · step 1/3 (10 %)")
    expect(page.locator(".steps li[aria-current=step]")).to_have_text("10 %")
    ro.abort("shop", ws=ws)
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_bad_steps_show_the_servers_refusal_as_one_line(
        browser: Browser, site: dict[str, Any]) -> None:  # noqa: F811
    ws: Workspace = site["ws"]
    before = [r.id for r, _ in ro.history("shop", ws=ws)]
    page = open_page(browser)
    login(page, site["url"], site["admin"], "#/models/iris")
    form = page.get_by_role("form", name="Start a rollout")
    alert = page.locator("main > p.error[role=alert]")
    page.on("dialog", lambda d: d.accept())
    form.get_by_label("Version").select_option("2")
    for steps, said in [("50, 10", "steps must be increasing percentages in (0, 100], e.g. "
                                   "5,25,50,100"),
                        ("ten, 100", "invalid body field")]:  # a 400, then the schema's 422
        form.get_by_label("Steps (%)").fill(steps)
        form.get_by_role("button", name="Start rollout").click()
        expect(alert).to_contain_text(said)
        assert alert.text_content().count("\n") == 0
    assert [r.id for r, _ in ro.history("shop", ws=ws)] == before  # nothing started
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_a_read_key_sees_neither_action_and_the_server_refuses_both(
        browser: Browser, site: dict[str, Any], shots: Path) -> None:  # noqa: F811
    ws: Workspace = site["ws"]
    page = open_page(browser, color_scheme="dark", viewport={"width": 390, "height": 844},
                     is_mobile=True, has_touch=True)
    login(page, site["url"], site["reader"], "#/models/iris")
    expect(page.get_by_role("heading", level=1)).to_have_text("iris")
    page.locator("details#v1 summary").click()
    expect(page.locator("details#v1")).to_contain_text("no copy — the native runtime serves it")
    expect(page.locator("[data-action]")).to_have_count(0)
    expect(page.get_by_role("form", name="Start a rollout")).to_have_count(0)
    page.screenshot(path=shots / "dashboard-model-read-key.png", full_page=True)
    assert refused(page, "POST", "/api/v1/models/iris/versions/1/export-onnx") == 403
    assert refused(page, "POST", "/api/v1/endpoints/shop/rollout/canary",
                   '{"to": "iris:2", "steps": [10, 100], "interval_s": 60}') == 403
    assert ws.store.registry.get_version("iris", 1)["onnx"] is None
    assert ro.active_rollout("shop", ws=ws) is None
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_the_trials_table_comes_a_page_at_a_time(browser: Browser,  # noqa: F811
                                                 site: dict[str, Any]) -> None:
    page = open_page(browser)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/studies/" in r.url else None)
    login(page, site["url"], site["reader"], "#/studies/wide")
    rows = page.locator("table.trials tbody tr")
    expect(rows).to_have_count(100)
    expect(page.locator("svg[aria-label='score by trial'] .trial-dot")).to_have_count(230)
    page.get_by_role("button", name="Show 100 more of 130").click()
    expect(rows).to_have_count(200)
    page.get_by_role("button", name="Show 30 more of 30").click()
    expect(rows).to_have_count(230)
    expect(page.get_by_role("button", name="Show 30 more of 30")).to_be_hidden()
    numbers = [int(n) for n in rows.locator("td:first-child").all_text_contents()]
    assert numbers == list(range(230))
    assert any("/detail?" in u and "limit=100" in u for u in asked), asked
    assert [u.split("after=")[1].split("&")[0] for u in asked if "/trials?" in u] == \
        ["99", "199"]
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()
