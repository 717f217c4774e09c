-- Items: the resource the API serves. Limits mirror the request schemas so the database is the last guard.
CREATE TABLE items (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  description text CHECK (char_length(description) <= 2000),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Keyset pagination walks (created_at, id).
CREATE INDEX items_created_at_id_idx ON items (created_at, id);
