"""The first copy: capture first, then every row in keyset chunks committed with their checkpoint (resumable),
and the plan that says beforehand what the copy will do. Never calls sync or verify."""
