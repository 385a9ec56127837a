"""`python -m kiosk`: the same as `gatehouse kiosk` (see `gatehouse kiosk --help`)."""

from __future__ import annotations

import sys

from gatehouse.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["kiosk", *sys.argv[1:]]))
