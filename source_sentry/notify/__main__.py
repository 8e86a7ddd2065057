"""``python -m source_sentry.notify ...``: the notifier without the console script."""

import sys

from source_sentry.notify.cli import main

sys.exit(main(sys.argv[1:]))
