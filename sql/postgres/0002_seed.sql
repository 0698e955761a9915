-- Seeds: the GB and IRE regions and the 19 bookmakers of model::SEED_BOOKMAKERS (source 'seed').
-- ON CONFLICT DO NOTHING so a row added earlier from odds keeps its place.

INSERT INTO regions (code, name) VALUES
    ('gb', 'Great Britain'),
    ('ire', 'Ireland')
ON CONFLICT (code) DO NOTHING;

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
    ('sporting_index', 'Sporting Index', 'spread', 'seed')
ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, source = 'seed';
