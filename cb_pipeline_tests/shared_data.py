"""Where the real data the tests use lives: `../shared/` beside the repository (never copied into it).

CB_SHARED_DIR overrides; otherwise the first of `<repo>/../shared` and `/work/shared` that exists.
Tests that need it skip with a message when it is absent.
"""

import os
from pathlib import Path

_CANDIDATES = [Path(__file__).resolve().parents[2] / "shared", Path("/work/shared")]
SHARED = Path(os.environ["CB_SHARED_DIR"]) if os.environ.get("CB_SHARED_DIR") else next(
    (p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])
