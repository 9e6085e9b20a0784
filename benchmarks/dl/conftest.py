"""The torch export test reuses the test suite's helpers (a server in a subprocess)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
