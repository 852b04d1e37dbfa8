-- A committed reservation can be returned (its order was cancelled after confirmation): the
-- stock goes back once.
ALTER TABLE reservations DROP CONSTRAINT reservations_status_check;
ALTER TABLE reservations ADD CONSTRAINT reservations_status_check
    CHECK (status IN ('reserved', 'released', 'committed', 'returned'));
