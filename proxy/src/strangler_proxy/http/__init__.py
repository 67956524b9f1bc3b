"""HTTP/1.1 on asyncio and httptools, both ways: the strict server that runs ASGI apps, and the pooled client.
Knows nothing of routes or stages; imports only `strangler_proxy.errors`, and everything above may use it."""

from strangler_proxy.compiled import extend_path

extend_path(__path__, "http")  # the compiled build of the hot modules first, when it matches these sources
