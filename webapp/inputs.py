"""Numbers and JSON from clients, read strictly. Pure: the REST API (webapp/api.py) and the
WebSocket consumer both read through these."""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Ids and counts are 64-bit integers in the database; larger ones cannot name anything.
MAX_INT = 2**63 - 1
_INTEGER = re.compile(r"-?[0-9]{1,19}")


def whole_number(raw: str) -> int | None:
    """The integer `raw` spells in plain ASCII digits, or None (int() alone takes "1_0", " 7", "²")."""
    return int(raw) if _INTEGER.fullmatch(raw) else None


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str | bytes) -> Any:
    """JSON as the API reads it: NaN, Infinity and numbers too large for a float (1e400) refused,
    as no JSON column or client could hold them."""
    return json.loads(text, parse_float=_finite, parse_constant=_no_constant)
