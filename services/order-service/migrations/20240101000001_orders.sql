-- Orders, their items, the saga's persisted state, and the transactional outbox.

CREATE TABLE orders (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL,
    status              text NOT NULL
        CHECK (status IN ('PENDING', 'CONFIRMED', 'CANCELLED', 'SHIPPED', 'COMPLETED')),
    total_amount        numeric(12, 2) NOT NULL,
    currency            text NOT NULL,
    -- Set when the saga starts compensating (the reason it will end with) and kept once
    -- CANCELLED.
    cancellation_reason text
        CHECK (cancellation_reason IN ('out_of_stock', 'payment_declined', 'cancelled_by_user', 'timeout')),
    idempotency_key     text,
    -- The saga: the next step to run ('done' when there is none), when it must have finished,
    -- and a lease so that one worker at a time drives an order (a crashed worker's lease
    -- lapses and another resumes).
    saga_step           text NOT NULL
        CHECK (saga_step IN ('reserve', 'charge', 'commit', 'compensate', 'done')),
    saga_deadline       timestamptz NOT NULL,
    saga_attempts       integer NOT NULL DEFAULT 0,
    lease_until         timestamptz,
    last_error          text,
    payment_token       text NOT NULL,
    payment_id          uuid,
    -- Whether a charge request may have reached the payment service (set before sending; reset
    -- only when the connection was refused). Compensation refunds only then, so an order whose
    -- payment service never answered can still be cancelled without it.
    charge_attempted    boolean NOT NULL DEFAULT false,
    -- Where the order came from, so the saga's calls and events continue the same trace.
    traceparent         text,
    request_id          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX orders_idempotency_key ON orders (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX orders_by_user ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX orders_saga_open ON orders (lease_until) WHERE saga_step <> 'done';

CREATE TABLE order_items (
    order_id   uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id uuid NOT NULL,
    quantity   integer NOT NULL CHECK (quantity > 0),
    price      numeric(12, 2) NOT NULL,
    PRIMARY KEY (order_id, product_id)
);

-- Events are written here in the transaction that changes the order, and published by the
-- relay; `sent_at` is set once RabbitMQ confirmed the message and routed it.
CREATE TABLE outbox (
    seq          bigserial PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,
    event_type   text NOT NULL,
    payload      jsonb NOT NULL,
    traceparent  text,
    request_id   text,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text
);

CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
