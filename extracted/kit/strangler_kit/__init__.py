"""The extraction kit: what every Django service extracted from the monolith shares instead of copying — the one
error body and its exception handler, strict pagination and filters, the API's integer rule, the signed identity
the proxy passes (`strangler_kit.identity`), /healthz and the JSON error views, and settings helpers. A service
lists "strangler_kit" in INSTALLED_APPS and builds its settings from `strangler_kit.settings`."""
