"""The `strangler` command line: thin commands over the control plane and the comparison, `--json` everywhere,
and exit codes defined once (`exit_codes.py`). Nothing imports it."""
