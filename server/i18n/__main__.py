"""``python -m server.i18n check`` (see ``server.i18n.check``)."""

import sys

from server.i18n.check import main

sys.exit(main(sys.argv[1:]))
