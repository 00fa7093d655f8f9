"""``python -m policy`` is the ``ccpolicy`` command."""

from .cli import main

raise SystemExit(main())
