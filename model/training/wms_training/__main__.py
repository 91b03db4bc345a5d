"""CLI: python -m wms_training <command> (see --help)."""

from .cli import main

raise SystemExit(main())
