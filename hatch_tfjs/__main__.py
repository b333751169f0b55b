"""``python -m hatch_tfjs``: the ``hatch-tfjs`` command line."""

from hatch_tfjs.cli import main

raise SystemExit(main())
