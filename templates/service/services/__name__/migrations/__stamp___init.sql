{% if db %}
-- The {{ name }} service's tables (sqlx runs the files of migrations/ in the order of their
-- number; add a new file for every change, never edit one that ran).

-- The example resource, {{ route }}: newest first in listings.
CREATE TABLE items (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX items_newest ON items (created_at DESC, id);
{% if publishes %}

-- The transactional outbox (kit::outbox): an item and its event commit together; the relay
-- publishes unsent rows to the shop.events exchange.
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
{% endif %}
{% if consumes %}

-- The inbox: one row per event applied. The consumer inserts the event id in the transaction
-- that applies the event and acknowledges the message only after commit, so an event delivered
-- again (a redelivery after a lost ack, or a duplicate publish) finds its id here and is
-- acknowledged without being applied twice.
CREATE TABLE inbox (
    event_id    uuid PRIMARY KEY,
    event_type  text NOT NULL,
    occurred_at timestamptz NOT NULL,
    payload     jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
{% endif %}
{% endif %}
