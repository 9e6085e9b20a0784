"""Driving modelport's dashboard for the UI benchmark: each method is one timed view."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

FIRST_ROW = ("arg => document.querySelector('table.runs tbody tr td:nth-child(2)')"
             "?.textContent === arg")
TIMEOUT_MS = 120_000


class ModelportUi:
    def __init__(self, page: Any, url: str, newest: str, best: str, compare_ids: list[str],
                 shots: Path | None) -> None:
        self.page, self.url, self.newest, self.best = page, url, newest, best
        self.compare_ids, self.shots = compare_ids, shots

    def _open(self, fragment: str, done: str, arg: Any, shot: str) -> float:
        self.page.goto("about:blank")
        start = time.perf_counter()
        self.page.goto(f"{self.url}/{fragment}")
        self.page.wait_for_function(done, arg=arg, timeout=TIMEOUT_MS, polling="raf")
        elapsed = time.perf_counter() - start
        if self.shots:
            self.shots.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=self.shots / f"modelport-{shot}.png")
        return elapsed

    def first_page(self) -> float:
        return self._open("#/runs", FIRST_ROW, self.newest, "runs")

    def sort(self) -> float:
        return self._open("#/runs?order=metrics.accuracy+DESC", FIRST_ROW, self.best, "sorted")

    def sort_click(self) -> float:
        """The in-page sort: the page is already open, the column header is clicked."""
        self.first_page()
        start = time.perf_counter()
        self.page.get_by_role("button", name="accuracy", exact=True).click()
        self.page.wait_for_function(FIRST_ROW, arg=self.best, timeout=TIMEOUT_MS, polling="raf")
        return time.perf_counter() - start

    def compare(self) -> float:
        ids = ",".join(self.compare_ids)
        done = ("arg => [...document.querySelectorAll('figure.chart')].some(f => "
                "f.querySelector('figcaption').textContent === 'loss' && "
                "f.querySelectorAll('polyline').length === arg)")
        return self._open(f"#/compare?ids={ids}", done, len(self.compare_ids), "compare")
