"""Makes the repository's ``jepsen_like`` importable however pytest starts.

``jepsen_like`` is not an installed package: it is run from the repository
root (``python -m jepsen_like``), which ``python -m pytest`` puts on the path
but a bare ``pytest`` does not.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
