"""``python -m hub``: the hub command line."""

import sys

from hub.cli import main

sys.exit(main())
