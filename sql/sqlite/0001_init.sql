-- The data contract of docs/schema.md on SQLite.
-- Types: instant = TEXT 'YYYY-MM-DDTHH:MM:SSZ' (UTC), date = TEXT 'YYYY-MM-DD', numeric = REAL,
-- bool = INTEGER 0/1, json = TEXT. Never edit this file once applied: add a new numbered file.

CREATE TABLE regions (
    code TEXT PRIMARY KEY,            -- lower case: gb, ire
    name TEXT NOT NULL
);

CREATE TABLE courses (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    region_code TEXT,                 -- lower case: gb
    region      TEXT,                 -- the region's name
    updated_at  TEXT NOT NULL
);

CREATE TABLE bookmakers (
    code   TEXT PRIMARY KEY,
    name   TEXT NOT NULL,
    kind   TEXT NOT NULL CHECK (kind IN ('online', 'exchange', 'spread')),
    source TEXT NOT NULL CHECK (source IN ('seed', 'odds'))
);

CREATE TABLE horses (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    sex_code   TEXT,
    dob        TEXT,
    colour     TEXT,
    breeder    TEXT,
    region     TEXT,
    sire_id    TEXT,
    dam_id     TEXT,
    damsire_id TEXT,
    updated_at TEXT NOT NULL
);

CREATE TABLE jockeys  (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE owners   (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE trainers (id TEXT PRIMARY KEY, name TEXT NOT NULL, location TEXT);
CREATE TABLE sires    (id TEXT PRIMARY KEY, name TEXT NOT NULL, region TEXT);
CREATE TABLE dams     (id TEXT PRIMARY KEY, name TEXT NOT NULL, region TEXT);
CREATE TABLE damsires (id TEXT PRIMARY KEY, name TEXT NOT NULL, region TEXT);

CREATE TABLE races (
    id                  TEXT PRIMARY KEY,
    course_id           TEXT NOT NULL,
    course_name         TEXT NOT NULL,
    race_date           TEXT NOT NULL,
    off_at              TEXT,
    region              TEXT NOT NULL,
    race_name           TEXT,
    race_type           TEXT,
    race_class          TEXT,
    pattern             TEXT,
    rating_band         TEXT,
    age_band            TEXT,
    sex_restriction     TEXT,
    distance            TEXT,
    distance_f          REAL,
    distance_y          INTEGER,
    distance_m          INTEGER,
    going               TEXT,
    going_detailed      TEXT,
    surface             TEXT,
    jumps               TEXT,
    prize_amount        REAL,
    prize_currency      TEXT,
    field_size          INTEGER,
    -- racecards only
    big_race            INTEGER,
    is_abandoned        INTEGER,
    stalls              TEXT,
    weather             TEXT,
    rail_movements      TEXT,
    tip                 TEXT,
    verdict             TEXT,
    betting_forecast    TEXT,
    -- results only
    winning_time_detail TEXT,
    comments            TEXT,
    non_runners         TEXT,
    tote_win            TEXT,
    tote_pl             TEXT,
    tote_ex             TEXT,
    tote_csf            TEXT,
    tote_tricast        TEXT,
    tote_trifecta       TEXT,
    has_result          INTEGER NOT NULL DEFAULT 0,
    racecard_updated_at TEXT,
    result_updated_at   TEXT,
    updated_at          TEXT NOT NULL
);
CREATE INDEX races_race_date ON races (race_date);

CREATE TABLE runners (
    race_id             TEXT NOT NULL REFERENCES races (id),
    horse_id            TEXT NOT NULL REFERENCES horses (id),
    horse_name          TEXT NOT NULL,
    number              INTEGER,
    draw                INTEGER,
    age                 INTEGER,
    sex_code            TEXT,
    jockey_id           TEXT,
    jockey_name         TEXT,
    jockey_claim_lbs    INTEGER,
    trainer_id          TEXT,
    trainer_name        TEXT,
    owner_id            TEXT,
    owner_name          TEXT,
    sire_id             TEXT,
    dam_id              TEXT,
    damsire_id          TEXT,
    weight_lbs          INTEGER,
    headgear            TEXT,
    official_rating     INTEGER,
    rpr                 INTEGER,
    topspeed            INTEGER,
    silk_url            TEXT,
    -- racecards only
    form                TEXT,
    spotlight           TEXT,
    card_comment        TEXT,
    -- results only
    position            TEXT,
    finish_position     INTEGER,
    btn                 REAL,
    ovr_btn             REAL,
    sp                  TEXT,
    sp_decimal          REAL,
    prize_amount        REAL,
    prize_currency      TEXT,
    finish_time         TEXT,
    finish_time_s       REAL,
    comment             TEXT,
    racecard_updated_at TEXT,
    result_updated_at   TEXT,
    updated_at          TEXT NOT NULL,
    PRIMARY KEY (race_id, horse_id)
);
CREATE INDEX runners_horse_id ON runners (horse_id);

CREATE TABLE runner_odds (
    race_id    TEXT NOT NULL,
    horse_id   TEXT NOT NULL,
    bookmaker  TEXT NOT NULL,
    fractional TEXT,
    decimal    REAL,
    ew_places  INTEGER,
    ew_denom   INTEGER,
    quoted_at  TEXT,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (race_id, horse_id, bookmaker)
);

CREATE TABLE api_responses (
    endpoint   TEXT NOT NULL,
    params     TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    status     INTEGER NOT NULL,
    sha256     TEXT NOT NULL,         -- of the raw (uncompressed) bytes, hex
    encoding   TEXT NOT NULL,         -- how body is stored: gzip
    body       BLOB NOT NULL,
    PRIMARY KEY (endpoint, params)
);

CREATE TABLE fetch_coverage (
    kind       TEXT NOT NULL CHECK (kind IN ('racecards', 'results')),
    race_date  TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('complete', 'empty', 'failed')),
    races      INTEGER NOT NULL DEFAULT 0,
    runners    INTEGER NOT NULL DEFAULT 0,
    pages      INTEGER NOT NULL DEFAULT 0,
    api_calls  INTEGER NOT NULL DEFAULT 0,
    fetched_at TEXT NOT NULL,
    error      TEXT,
    PRIMARY KEY (kind, race_date)
);

CREATE TABLE job_runs (
    id           INTEGER PRIMARY KEY,
    job          TEXT NOT NULL,
    slot         TEXT,
    trigger      TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual', 'force')),
    status       TEXT NOT NULL
                 CHECK (status IN ('running', 'succeeded', 'failed', 'partial', 'skipped', 'timed_out')),
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    host         TEXT,
    pid          INTEGER,
    dry_run      INTEGER NOT NULL DEFAULT 0,
    api_calls    INTEGER NOT NULL DEFAULT 0,
    api_errors   INTEGER NOT NULL DEFAULT 0,
    rows_written INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    summary      TEXT,
    UNIQUE (job, slot)
);
CREATE INDEX job_runs_job_started_at ON job_runs (job, started_at);

CREATE TABLE alert_state (
    job                  TEXT PRIMARY KEY,
    state                TEXT NOT NULL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_alert_at        TEXT
);

INSERT INTO regions (code, name) VALUES ('gb', 'Great Britain'), ('ire', 'Ireland');

INSERT INTO bookmakers (code, name, kind, source) VALUES
    ('bet365', 'Bet365', 'online', 'seed'),
    ('william_hill', 'William Hill', 'online', 'seed'),
    ('paddy_power', 'Paddy Power', 'online', 'seed'),
    ('ladbrokes', 'Ladbrokes', 'online', 'seed'),
    ('coral', 'Coral', 'online', 'seed'),
    ('betfred', 'Betfred', 'online', 'seed'),
    ('sky_bet', 'Sky Bet', 'online', 'seed'),
    ('bet_victor', 'Bet Victor', 'online', 'seed'),
    ('unibet', 'Unibet', 'online', 'seed'),
    ('betway', 'Betway', 'online', 'seed'),
    ('boyle_sports', 'Boyle Sports', 'online', 'seed'),
    ('888_sport', '888 Sport', 'online', 'seed'),
    ('betfair_sportsbook', 'Betfair Sportsbook', 'online', 'seed'),
    ('tote', 'Tote', 'online', 'seed'),
    ('betfair_exchange', 'Betfair Exchange', 'exchange', 'seed'),
    ('matchbook', 'Matchbook', 'exchange', 'seed'),
    ('smarkets', 'Smarkets', 'exchange', 'seed'),
    ('spreadex', 'Spreadex', 'spread', 'seed'),
    ('sporting_index', 'Sporting Index', 'spread', 'seed');
