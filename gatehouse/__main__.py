"""`python -m gatehouse` is the `gatehouse` command."""

import sys

from gatehouse.cli import main

sys.exit(main())
