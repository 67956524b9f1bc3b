"""The HTTP layer: one `Endpoint` per URL of `/api/inventory/`, dispatching as the monolith's DRF views do
(identity, then permission, then method, then the handler), and the route table that maps paths to them."""
