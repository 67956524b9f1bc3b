"""Strangler's routing proxy, in layers that import only those below them (`proxy/.importlinter`): cli > control >
compare > dataplane > http > errors. docs/architecture.md walks through them; each package's docstring says its part."""
