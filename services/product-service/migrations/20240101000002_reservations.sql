-- Stock reservations of the order saga, keyed by order id (idempotency key). Stock is deducted
-- from products.stock when reserved, given back once on release, and kept on commit.

CREATE TABLE reservations (
    order_id   uuid PRIMARY KEY,
    status     text NOT NULL CHECK (status IN ('reserved', 'released', 'committed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- No foreign key to products: a reservation is a record of what an order held, and deleting a
-- product from the catalogue must not rewrite (or be blocked by) order history.
CREATE TABLE reservation_items (
    order_id   uuid NOT NULL REFERENCES reservations (order_id) ON DELETE CASCADE,
    product_id uuid NOT NULL,
    quantity   integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, product_id)
);

CREATE INDEX reservation_items_product_idx ON reservation_items (product_id);

-- Records that the demo catalogue decision was taken (seeded, or skipped because the catalogue
-- already had products), so it happens at first start only.
CREATE TABLE demo_seed (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    products   integer NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
