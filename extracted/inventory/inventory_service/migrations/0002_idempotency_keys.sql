-- The service's own table (the monolith has none): the answer given to each Idempotency-Key, per caller, so a
-- retried reservation is answered again instead of reserving twice. Kept 24 hours (`prune-idempotency-keys`).
CREATE TABLE inventory_idempotency_key (
    user_id bigint NOT NULL,
    key varchar(255) NOT NULL,
    fingerprint bytea NOT NULL,
    status integer,
    body bytea,
    created_at timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX inventory_idempotency_key_created_at ON inventory_idempotency_key (created_at);
