"""The inventory service: warehouses, stock on hand and reservations, extracted from the monolith's `inventory` app.

An ASGI application (Starlette) over PostgreSQL through psycopg 3 and plain SQL. It answers the monolith's
`/api/inventory/…` contract (URLs, JSON, status codes, error bodies, pagination, filters, permissions) and trusts
only the identity the proxy signs (docs/identity.md).
"""
