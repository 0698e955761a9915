-- The data contract of docs/schema.md on PostgreSQL. Unqualified names: the migrator sets
-- search_path to `database.schema` for this transaction, so one database can hold several copies.
-- Beyond the contract: api_responses.encoding ('gzip') and fetch_coverage.error.

CREATE TABLE regions (
    code text PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE courses (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    region_code text,
    region      text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bookmakers (
    code   text PRIMARY KEY,
    name   text NOT NULL,
    kind   text NOT NULL CHECK (kind IN ('online', 'exchange', 'spread')),
    source text NOT NULL CHECK (source IN ('seed', 'odds'))
);

CREATE TABLE horses (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    sex_code   text,
    dob        date,
    colour     text,
    breeder    text,
    region     text,
    sire_id    text,
    dam_id     text,
    damsire_id text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jockeys (id text PRIMARY KEY, name text NOT NULL);
CREATE TABLE owners (id text PRIMARY KEY, name text NOT NULL);
CREATE TABLE trainers (id text PRIMARY KEY, name text NOT NULL, location text);
CREATE TABLE sires (id text PRIMARY KEY, name text NOT NULL, region text);
CREATE TABLE dams (id text PRIMARY KEY, name text NOT NULL, region text);
CREATE TABLE damsires (id text PRIMARY KEY, name text NOT NULL, region text);

CREATE TABLE races (
    id                  text PRIMARY KEY,
    course_id           text,
    course_name         text,
    race_date           date NOT NULL,
    off_at              timestamptz,
    region              text,
    race_name           text,
    race_type           text,
    race_class          text,
    pattern             text,
    rating_band         text,
    age_band            text,
    sex_restriction     text,
    distance            text,
    distance_f          numeric,
    distance_y          integer,
    distance_m          integer,
    going               text,
    going_detailed      text,
    surface             text,
    jumps               text,
    prize_amount        numeric,
    prize_currency      text,
    field_size          integer,
    big_race            boolean,
    is_abandoned        boolean,
    stalls              text,
    weather             text,
    rail_movements      text,
    tip                 text,
    verdict             text,
    betting_forecast    text,
    winning_time_detail text,
    comments            text,
    non_runners         text,
    tote_win            text,
    tote_pl             text,
    tote_ex             text,
    tote_csf            text,
    tote_tricast        text,
    tote_trifecta       text,
    has_result          boolean NOT NULL DEFAULT false,
    racecard_updated_at timestamptz,
    result_updated_at   timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX races_race_date_idx ON races (race_date);

CREATE TABLE runners (
    race_id             text NOT NULL REFERENCES races (id),
    horse_id            text NOT NULL REFERENCES horses (id),
    horse_name          text,
    number              integer,
    draw                integer,
    age                 integer,
    sex_code            text,
    jockey_id           text,
    jockey_name         text,
    jockey_claim_lbs    integer,
    trainer_id          text,
    trainer_name        text,
    owner_id            text,
    owner_name          text,
    sire_id             text,
    dam_id              text,
    damsire_id          text,
    weight_lbs          integer,
    headgear            text,
    official_rating     integer,
    rpr                 integer,
    topspeed            integer,
    silk_url            text,
    form                text,
    spotlight           text,
    card_comment        text,
    position            text,
    finish_position     integer,
    btn                 numeric,
    ovr_btn             numeric,
    sp                  text,
    sp_decimal          numeric,
    prize_amount        numeric,
    prize_currency      text,
    finish_time         text,
    finish_time_s       numeric,
    comment             text,
    racecard_updated_at timestamptz,
    result_updated_at   timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (race_id, horse_id)
);
CREATE INDEX runners_horse_id_idx ON runners (horse_id);

CREATE TABLE runner_odds (
    race_id    text NOT NULL,
    horse_id   text NOT NULL,
    bookmaker  text NOT NULL,
    fractional text,
    decimal    numeric,
    ew_places  integer,
    ew_denom   integer,
    quoted_at  timestamptz,
    fetched_at timestamptz NOT NULL,
    PRIMARY KEY (race_id, horse_id, bookmaker)
);

CREATE TABLE api_responses (
    endpoint   text NOT NULL,
    params     text NOT NULL,
    fetched_at timestamptz NOT NULL,
    status     integer NOT NULL,
    sha256     text NOT NULL,
    encoding   text NOT NULL,
    body       bytea NOT NULL,
    PRIMARY KEY (endpoint, params)
);

CREATE TABLE fetch_coverage (
    kind       text NOT NULL CHECK (kind IN ('racecards', 'results')),
    race_date  date NOT NULL,
    status     text NOT NULL CHECK (status IN ('complete', 'empty', 'failed')),
    races      integer NOT NULL DEFAULT 0,
    runners    integer NOT NULL DEFAULT 0,
    pages      integer NOT NULL DEFAULT 0,
    api_calls  integer NOT NULL DEFAULT 0,
    fetched_at timestamptz NOT NULL,
    error      text,
    PRIMARY KEY (kind, race_date)
);

CREATE TABLE job_runs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job          text NOT NULL,
    slot         timestamptz,
    trigger      text NOT NULL CHECK (trigger IN ('schedule', 'manual', 'force')),
    status       text NOT NULL
                 CHECK (status IN ('running', 'succeeded', 'failed', 'partial', 'skipped', 'timed_out')),
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    host         text,
    pid          integer,
    dry_run      boolean NOT NULL DEFAULT false,
    api_calls    integer NOT NULL DEFAULT 0,
    api_errors   integer NOT NULL DEFAULT 0,
    rows_written integer NOT NULL DEFAULT 0,
    error        text,
    summary      jsonb,
    UNIQUE (job, slot)
);
CREATE INDEX job_runs_job_started_at_idx ON job_runs (job, started_at);

CREATE TABLE alert_state (
    job                  text PRIMARY KEY,
    state                text NOT NULL,
    consecutive_failures integer NOT NULL DEFAULT 0,
    last_alert_at        timestamptz
);
