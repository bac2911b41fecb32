"""Logging for rule scripts: everything (library logs, warnings, tracebacks) goes to the rule's
log file, and a failure ends with one line on stderr naming what went wrong."""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from collections.abc import Iterator

from .io import InputError


@contextlib.contextmanager
def rule_logging(log_path: str) -> Iterator[logging.Logger]:
    handler = logging.FileHandler(log_path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        yield logging.getLogger("disloctem")
    except InputError as exc:
        logging.getLogger("disloctem").error("%s", exc)
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except Exception:
        logging.getLogger("disloctem").error("failed:\n%s", traceback.format_exc())
        raise
    finally:
        handler.flush()
