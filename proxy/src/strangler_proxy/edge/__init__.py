"""Other data planes driven by the route table: an nginx configuration and Kubernetes Gateway API `HTTPRoute`s
rendered from a `RouteTable`, and `nginx sync`, which keeps a running nginx on the store's newest table.
"""
