"""Named crash points for the fault tests: ``QM_FAULT_POINT=after-file-commit`` makes the process
kill itself (SIGKILL, as ``kill -9``) when it gets there.

A no-op unless the variable is set (one name, or several separated by commas). The points sit
right after the commits whose aftermath must survive a crash (docs/operations.md).
"""

from __future__ import annotations

import os
import signal

VARIABLE = "QM_FAULT_POINT"


def crash_point(name: str) -> None:
    wanted = os.environ.get(VARIABLE)
    if wanted and name in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
