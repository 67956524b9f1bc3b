"""Plain SQL over the service's tables, one module per table: reads return rows shaped as the API shows them,
writes take keyword arguments and run inside the caller's transaction."""
