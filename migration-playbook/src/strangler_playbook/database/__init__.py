"""Where data lives: connections to either engine, a spec's tables resolved against them, row reads and writes,
the engine's durable state table, and the `RunContext` (spec + both connections) every operation runs in."""
