-- The catalogue. Money is NUMERIC(12,2); stock can never go below zero (the CHECK is the last
-- line of defence behind the guarded UPDATEs of the reservation code).

-- array_to_string is only STABLE in general (element output functions may vary), but for text[]
-- it is deterministic, so an IMMUTABLE wrapper may feed the generated search column.
CREATE FUNCTION product_tags_text(tags text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(array_to_string(tags, ' '), '') $$;

CREATE TABLE products (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (btrim(name) <> ''),
    description text NOT NULL DEFAULT '',
    price       numeric(12, 2) NOT NULL CHECK (price >= 0),
    stock       integer NOT NULL CHECK (stock >= 0),
    category    text NOT NULL CHECK (btrim(category) <> ''),
    tags        text[] NOT NULL DEFAULT '{}',
    images      text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- Full-text document: name weighs most (A), then tags and category (B), then the
    -- description (C); ts_rank orders search results by it.
    search      tsvector GENERATED ALWAYS AS (
                    setweight(to_tsvector('english', name), 'A')
                 || setweight(to_tsvector('english', product_tags_text(tags) || ' ' || category), 'B')
                 || setweight(to_tsvector('english', description), 'C')
                ) STORED
);

CREATE INDEX products_search_idx ON products USING gin (search);
CREATE INDEX products_tags_idx ON products USING gin (tags);
CREATE INDEX products_category_idx ON products (category);
CREATE INDEX products_price_idx ON products (price);
CREATE INDEX products_created_at_idx ON products (created_at);
CREATE INDEX products_name_idx ON products (name);
