"""The data plane: the route table contract, and every request's way through it (route, stage, forward, mirror,
hold, count, log). Imports only `http` and `errors`: never the control plane, the comparison or the CLI."""

from strangler_proxy.compiled import extend_path

extend_path(__path__, "dataplane")  # the compiled build of the hot modules first, when it matches these sources
