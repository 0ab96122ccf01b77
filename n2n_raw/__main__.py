"""``python -m n2n_raw …`` (and ``torchrun -m n2n_raw …``) is the ``n2n-raw`` command."""

import sys

from .cli import main

sys.exit(main())
