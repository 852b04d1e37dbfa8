-- The inbox: one row per event applied. The consumer inserts the event id in the same
-- transaction as the notification and acknowledges the message only after commit, so an event
-- delivered again (a redelivery after a lost ack, or a duplicate publish) finds its id here and
-- is acknowledged without a second notification.
CREATE TABLE inbox (
    event_id    uuid PRIMARY KEY,
    event_type  text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- The email each event would send; event_id ties it to its inbox row (one per event).
CREATE TABLE notifications (
    id          uuid PRIMARY KEY,
    event_id    uuid NOT NULL UNIQUE REFERENCES inbox (event_id),
    user_id     uuid NOT NULL,
    order_id    uuid NOT NULL,
    event_type  text NOT NULL,
    subject     text NOT NULL,
    body        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A user's list, newest first, optionally for one order.
CREATE INDEX notifications_by_user ON notifications (user_id, occurred_at DESC, created_at DESC);
CREATE INDEX notifications_by_user_order ON notifications (user_id, order_id);

-- Messages that failed every attempt (they are also in the RabbitMQ dead-letter queue). The
-- event id is text because a poison message may carry anything, or nothing, as its id.
CREATE TABLE dead_letters (
    id          uuid PRIMARY KEY,
    event_id    text,
    routing_key text NOT NULL,
    body        text NOT NULL,
    headers     jsonb NOT NULL,
    error       text NOT NULL,
    attempts    integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX dead_letters_newest ON dead_letters (created_at DESC);
