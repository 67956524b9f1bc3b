"""The control plane: route store and its codecs, admin API and its client, data states, settings, and the
`strangler proxy` runtime that wires every layer together. May import every layer but the CLI."""
