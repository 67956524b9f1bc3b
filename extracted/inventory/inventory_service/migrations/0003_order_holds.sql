-- The service's own table (the monolith has none): one row per order hold, the stock the monolith reserves for
-- an order it is about to place (docs/seam.md, "the order saga"). `key` is the monolith's idempotency key for
-- the hold; the answer given to the first request is kept so that a retry gets it again instead of reserving
-- twice. A hold released before its reservation ever arrived is a row without an answer: the late request is
-- refused instead of reserving stock nobody will ever claim.
CREATE TABLE inventory_order_hold (
    key varchar(64) PRIMARY KEY,
    fingerprint bytea,
    status integer,
    body bytea,
    reservation_ids bigint[] NOT NULL DEFAULT '{}',
    order_id bigint,
    released boolean NOT NULL DEFAULT false,
    created_at timestamp with time zone NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX inventory_order_hold_order_id ON inventory_order_hold (order_id);
