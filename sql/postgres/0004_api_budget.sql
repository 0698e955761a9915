-- Issue 9: one API budget across processes. Each account (a hash of user name and base URL, never
-- the name) has one row holding the shared pacing state as JSON (docs/api-budget.md); every API
-- request of every process takes its slot in one short transaction that locks the row. Not a
-- contract table: only darkhorses reads it. Unlogged: the state is worth a second or two, so it
-- skips the write-ahead log (and its flush on every commit); a crash or failover empties it, which
-- only forgets the last second's sends. Runs with search_path set to `database.schema`.
-- Never edit this file once applied.
CREATE UNLOGGED TABLE api_budget (
    account    text PRIMARY KEY,
    state      jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now()
);
