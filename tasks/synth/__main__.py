"""``python -m tasks.synth``: see ``tasks.synth.cli``."""

import sys

from tasks.synth.cli import main

sys.exit(main())
