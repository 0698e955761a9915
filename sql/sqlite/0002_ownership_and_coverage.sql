-- Issue 15: pre-race and in-race values in separate columns, and coverage that says what it covers.
-- Never edit this file once applied: add a new numbered file.
--
-- Note: a re-fetch fills what this file cannot know. Rows stored before it keep their values and
-- get the new columns; only what is certain is moved here. `darkhorses backfill` fetches every
-- date of its range again once (coverage written before this file does not say which regions it
-- covers), which fills races.ran, runners.result_rpr and runners.result_topspeed, puts each
-- racecard's ratings back in runners.rpr and runners.topspeed, and lets results' values stand in
-- the columns both sources provide. `darkhorses daily --results-only --days-back N` re-fetches
-- the results of the last N days.

-- races.ran: how many ran (the runners in the result). races.field_size stays the declared field.
ALTER TABLE races ADD COLUMN ran INTEGER;
-- The ratings earned in the race (results `rpr`, `tsr`); runners.rpr and topspeed are the
-- racecard's ratings going into it.
ALTER TABLE runners ADD COLUMN result_rpr INTEGER;
ALTER TABLE runners ADD COLUMN result_topspeed INTEGER;

-- Certain: a runner no racecard ever wrote holds the result's ratings in rpr/topspeed.
UPDATE runners
   SET result_rpr = rpr, result_topspeed = topspeed, rpr = NULL, topspeed = NULL
 WHERE racecard_updated_at IS NULL AND result_updated_at IS NOT NULL;

-- Certain: a race with a result ran the runners its result listed (NULL when it listed none).
UPDATE races
   SET ran = NULLIF((SELECT COUNT(*) FROM runners r
                      WHERE r.race_id = races.id AND r.result_updated_at IS NOT NULL), 0)
 WHERE has_result = 1;

-- Certain: a race no racecard ever wrote has the result's count in field_size, not a declared field.
UPDATE races SET field_size = NULL WHERE racecard_updated_at IS NULL AND has_result = 1;

-- fetch_coverage.regions: the lower-case region codes the fetch asked for, sorted and
-- comma-separated (`gb,ire`; empty text = every region). NULL = unknown: such a row covers no
-- region, so backfill fetches its date again.
ALTER TABLE fetch_coverage ADD COLUMN regions TEXT;
-- fetch_coverage.day_over: the racing day (UK) was over when the fetch was made, so a results
-- fetch saw every race. Only such results rows count as complete.
ALTER TABLE fetch_coverage ADD COLUMN day_over INTEGER NOT NULL DEFAULT 0;

-- Derived for existing rows: fetched on a later UTC date than the race date. UTC is behind or
-- equal to UK time, so this never claims a day over that was not (an evening UK fetch after
-- 23:00 UTC in summer is counted as not over, and fetched again).
UPDATE fetch_coverage SET day_over = 1 WHERE substr(fetched_at, 1, 10) > race_date;
