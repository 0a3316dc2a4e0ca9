"""`python -m hedgehog_sync.devlab.apiserver`: the foreground server."""

import sys

from hedgehog_sync.devlab.apiserver.cli import main

sys.exit(main())
