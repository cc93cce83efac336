"""The ASGI application a web process serves is ready before the server listens."""

from __future__ import annotations

import subprocess
import sys


def test_loading_the_asgi_application_imports_every_view_so_the_first_request_does_not_wait():
    probe = (
        "import sys, webapp.asgi\n"
        "print(' '.join(m for m in ('training.api.views', 'labeling.views', 'torch') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True
    ).stdout.split()
    assert loaded == ["training.api.views", "labeling.views", "torch"]
