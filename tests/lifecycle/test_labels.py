"""Label files by model and version: the first label of a request wins, in the order the
files were written; hours too old to label the window's predictions are not read."""

from __future__ import annotations

import time
from pathlib import Path

from modelport.lifecycle.labels import read_labels, write_labels


def test_the_first_label_written_wins_and_old_hours_are_not_read(tmp_path: Path) -> None:
    now = time.time()
    write_labels(tmp_path, "iris", 2, ["old"], [1], ts=now - 5 * 3600)
    for label in ("first", "second", "third"):  # one hour, three files: names sort as written
        write_labels(tmp_path, "iris", 2, ["r1"], [label], ts=now)
    write_labels(tmp_path, "iris", 3, ["r1"], ["another version"], ts=now)
    assert read_labels(tmp_path, "iris", 2).by_request == {"old": "1", "r1": "first"}
    recent = read_labels(tmp_path, "iris", 2, since=now - 600)
    assert recent.by_request == {"r1": "first"} and recent.unreadable == 0
    assert read_labels(tmp_path, "iris", 3).by_request == {"r1": "another version"}
    assert read_labels(tmp_path, "wine", 1).by_request == {}
