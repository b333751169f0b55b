"""``python -m sample_app``: serve the page on http://127.0.0.1:8000/."""

import sys

from sample_app.server import main

sys.exit(main())
