"""`python -m pytest_fragility` is the `fragility` command."""

import sys

from pytest_fragility.cli import main

sys.exit(main())
