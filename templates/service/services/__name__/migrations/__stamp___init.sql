{% if db %}
-- The {{ name }} service's tables (sqlx runs the files of migrations/ in the order of their
-- number; add a new file for every change, never edit one that ran).
{% if publishes %}
-- The outbox table is kit's (kit::outbox::TABLE, created by kit::outbox::create_table in
-- startup::connect, after these migrations): no migration creates or alters it.
{% endif %}

-- The example resource, {{ route }}: newest first in listings.
CREATE TABLE items (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX items_newest ON items (created_at DESC, id);
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
