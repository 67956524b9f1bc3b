"""What moves: the extraction spec (tables, column maps, filters, routes) and the column kinds values normalise to.
Pure and validated before any database is touched; imports nothing of the engine but `errors`."""
