"""Strangler's routing proxy, in layers (each imports only those below it; `.importlinter` keeps it so):

    cli        the `strangler` command line
    control    route store, admin API and client, settings, the `strangler proxy` runtime
    compare    comparator, noise, gates, mismatches, capture, replay
    dataplane  the route table contract and the request path
    http       HTTP/1.1 server and client
    errors     the one exception tree and the one JSON error body

docs/architecture.md walks through them.
"""
