-- Payments, one per order: the unique order_id is the idempotency key. A charge inserts the row
-- first (inside the transaction that calls the provider), so a concurrent duplicate waits on the
-- unique index and then sees the outcome; a transient provider failure rolls the row back.

CREATE TABLE payments (
    id             uuid PRIMARY KEY,
    order_id       uuid NOT NULL UNIQUE,
    amount         numeric(12, 2) NOT NULL CHECK (amount > 0),
    currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status         text NOT NULL CHECK (status IN ('pending', 'succeeded', 'declined', 'refunded')),
    decline_reason text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
