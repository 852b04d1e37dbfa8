-- Accounts. Emails are stored trimmed and lowercased, and unique whatever their case (the
-- check keeps the stored form lowercase; the index makes lower(email) lookups and the
-- uniqueness case-insensitive even for rows written by hand).
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL CHECK (email = lower(email)),
    name          text NOT NULL,
    password_hash text NOT NULL,
    roles         text[] NOT NULL DEFAULT ARRAY['user']::text[],
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE INDEX users_created_at_idx ON users (created_at, id);
