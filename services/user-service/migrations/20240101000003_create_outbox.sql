-- The transactional outbox (kit::outbox, the same shape as the order service's): an account's
-- deletion and its user.deleted event commit together; the relay publishes unsent rows.
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
