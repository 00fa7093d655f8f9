"""``python -m policy`` is the ``ccpolicy`` command."""

from policy.cli import main

raise SystemExit(main())
