//! What `darkhorses quality` reads: the SQL of its probes, written once for both backends, and the
//! rows they return. What a finding means (its check, threshold and level) is decided by
//! `jobs::quality`; these only find rows.
//!
//! The SQL is the subset both backends read alike: `$N` placeholders (SQLite binds them as `?N`),
//! `CAST(x AS TEXT)`, `COALESCE`, `LIKE`, `||`, `COUNT(*) OVER ()`. Each backend binds the values a
//! probe lists in [`Probe::params`] with its own types (SQLite: dates and instants as the text it
//! stores; Postgres: `date` and `timestamptz`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A value a probe binds, in the order of its `$1`, `$2`, ... placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// The first racing day checked (a date).
    From,
    /// The last racing day checked (a date).
    To,
    /// The racing day before `Now`'s (a date).
    Yesterday,
    /// The racing day of `Now` (a date).
    Today,
    /// The checking run's "now" (an instant).
    Now,
    /// `Now` less the result grace period (an instant).
    GraceCutoff,
    /// The configured region codes, upper case, comma-separated (`GB,IRE`): text.
    Regions,
    /// How many subjects to return at most (an integer).
    Limit,
}

/// One probe: a query returning `(subject text, total bigint)` rows, the subjects ordered and at
/// most `Limit` of them, `total` the count of every matching row (`COUNT(*) OVER ()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub name: &'static str,
    pub params: &'static [Param],
    pub sql: &'static str,
}

/// The values a probe's parameters take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeScope {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub today: NaiveDate,
    pub now: DateTime<Utc>,
    pub grace_cutoff: DateTime<Utc>,
    /// Upper-case region codes, comma-separated.
    pub regions: String,
    pub limit: u32,
}

impl ProbeScope {
    /// The racing day before today.
    pub fn yesterday(&self) -> NaiveDate {
        self.today.pred_opt().unwrap_or(self.today)
    }
}

/// What a probe found: how many rows in all, and the first of them, named.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    pub total: u64,
    pub subjects: Vec<String>,
}

/// The races and runners of one racing day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCounts {
    pub date: NaiveDate,
    pub races: i64,
    /// Races a racecard wrote (`racecard_updated_at` set).
    pub racecards: i64,
    /// Races with a result (`has_result`).
    pub results: i64,
    /// Races called off (`is_abandoned`): they have no result to wait for.
    pub abandoned: i64,
    pub runners: i64,
}

/// A race with a result, and what its runners say about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultedRace {
    pub id: String,
    pub race_date: NaiveDate,
    /// The declared field (racecards); `None` when no racecard said.
    pub field_size: Option<i64>,
    /// `races.non_runners` as the result sent it: `Name (reason), Name (reason)`.
    pub non_runners: Option<String>,
    /// Runners the result listed (`result_updated_at` set).
    pub result_runners: i64,
    /// Runners placed first (`finish_position = 1`; more than one in a dead heat).
    pub winners: i64,
}

/// The first and last racing day anything is stored for (races or `fetch_coverage`), or `None`
/// for an empty database. Both backends read dates with it.
pub const KNOWN_RANGE: &str = "SELECT MIN(d), MAX(d) FROM (
        SELECT MIN(race_date) AS d FROM races
        UNION ALL SELECT MAX(race_date) FROM races
        UNION ALL SELECT MIN(race_date) FROM fetch_coverage
        UNION ALL SELECT MAX(race_date) FROM fetch_coverage) known";

/// Per racing day from `$1` to `$2`: date, races, races with a racecard, races with a result,
/// races abandoned, runners.
pub const DAY_COUNTS: &str = "SELECT x.race_date, COUNT(*),
        CAST(SUM(CASE WHEN x.racecard_updated_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT),
        CAST(SUM(CASE WHEN x.has_result THEN 1 ELSE 0 END) AS BIGINT),
        CAST(SUM(CASE WHEN COALESCE(x.is_abandoned, FALSE) THEN 1 ELSE 0 END) AS BIGINT),
        CAST(SUM((SELECT COUNT(*) FROM runners r WHERE r.race_id = x.id)) AS BIGINT)
    FROM races x WHERE x.race_date BETWEEN $1 AND $2
    GROUP BY x.race_date ORDER BY x.race_date";

/// Races with a result from `$1` to `$2`, not abandoned: id, date, field size, non-runners, the
/// runners the result listed, the winners.
pub const RESULTED_RACES: &str = "SELECT x.id, x.race_date, x.field_size, x.non_runners,
        CAST(SUM(CASE WHEN r.result_updated_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT),
        CAST(SUM(CASE WHEN r.finish_position = 1 THEN 1 ELSE 0 END) AS BIGINT)
    FROM races x LEFT JOIN runners r ON r.race_id = x.id
    WHERE x.race_date BETWEEN $1 AND $2 AND x.has_result AND NOT COALESCE(x.is_abandoned, FALSE)
    GROUP BY x.race_date, x.id
    ORDER BY x.race_date, x.id";

/// Runners whose race has no `races` row (the whole table: such a runner has no date).
pub const RUNNERS_WITHOUT_RACES: Probe = Probe {
    name: "runners_without_races",
    params: &[Param::Limit],
    sql: "SELECT r.race_id || '/' || r.horse_id, COUNT(*) OVER ()
        FROM runners r
        WHERE NOT EXISTS (SELECT 1 FROM races x WHERE x.id = r.race_id)
        ORDER BY r.race_id, r.horse_id LIMIT $1",
};

/// Races whose course has no `courses` row.
pub const RACES_WITHOUT_COURSES: Probe = Probe {
    name: "races_without_courses",
    params: &[Param::From, Param::To, Param::Limit],
    sql: "SELECT x.id || ' (' || CAST(x.race_date AS TEXT) || ', course ' || COALESCE(x.course_id, 'none') || ')',
            COUNT(*) OVER ()
        FROM races x
        WHERE x.race_date BETWEEN $1 AND $2 AND NOT EXISTS (SELECT 1 FROM courses c WHERE c.id = x.course_id)
        ORDER BY x.race_date, x.id LIMIT $3",
};

/// Runners naming an entity id (horse, jockey, trainer, owner, sire, dam, damsire) that has no row
/// in its table: one pass over the window's runners, each id looked up by its table's key.
pub const ENTITIES_WITHOUT_ROWS: Probe = Probe {
    name: "entities_without_rows",
    params: &[Param::From, Param::To, Param::Limit],
    sql: "SELECT e.runner || ' no row for'
                || CASE WHEN e.horse THEN ' horse_id ' || e.horse_id ELSE '' END
                || CASE WHEN e.jockey THEN ' jockey_id ' || e.jockey_id ELSE '' END
                || CASE WHEN e.trainer THEN ' trainer_id ' || e.trainer_id ELSE '' END
                || CASE WHEN e.owner THEN ' owner_id ' || e.owner_id ELSE '' END
                || CASE WHEN e.sire THEN ' sire_id ' || e.sire_id ELSE '' END
                || CASE WHEN e.dam THEN ' dam_id ' || e.dam_id ELSE '' END
                || CASE WHEN e.damsire THEN ' damsire_id ' || e.damsire_id ELSE '' END,
            COUNT(*) OVER ()
        FROM (
            SELECT r.race_id || '/' || r.horse_id AS runner, r.horse_id, r.jockey_id, r.trainer_id, r.owner_id,
                   r.sire_id, r.dam_id, r.damsire_id,
                   NOT EXISTS (SELECT 1 FROM horses t WHERE t.id = r.horse_id) AS horse,
                   r.jockey_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM jockeys t WHERE t.id = r.jockey_id) AS jockey,
                   r.trainer_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM trainers t WHERE t.id = r.trainer_id) AS trainer,
                   r.owner_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM owners t WHERE t.id = r.owner_id) AS owner,
                   r.sire_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sires t WHERE t.id = r.sire_id) AS sire,
                   r.dam_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM dams t WHERE t.id = r.dam_id) AS dam,
                   r.damsire_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM damsires t WHERE t.id = r.damsire_id) AS damsire
              FROM runners r JOIN races x ON x.id = r.race_id
             WHERE x.race_date BETWEEN $1 AND $2
        ) e
        WHERE e.horse OR e.jockey OR e.trainer OR e.owner OR e.sire OR e.dam OR e.damsire
        ORDER BY e.runner LIMIT $3",
};

/// Two or more race ids for one race: the same course, off time and race name.
pub const DUPLICATE_RACES: Probe = Probe {
    name: "duplicate_races",
    params: &[Param::From, Param::To, Param::Limit],
    sql: "SELECT MIN(x.id) || ' and ' || MAX(x.id)
                || CASE WHEN COUNT(*) > 2 THEN ' and ' || CAST(COUNT(*) - 2 AS TEXT) || ' more' ELSE '' END
                || ' (' || CAST(MIN(x.race_date) AS TEXT) || ', course ' || x.course_id || ')',
            COUNT(*) OVER ()
        FROM races x
        WHERE x.race_date BETWEEN $1 AND $2 AND x.course_id IS NOT NULL AND x.off_at IS NOT NULL
        GROUP BY x.course_id, x.off_at, x.race_name HAVING COUNT(*) > 1
        ORDER BY MIN(x.race_date), MIN(x.id) LIMIT $3",
};

/// Races lacking a column every race has: course_id, course_name, off_at, region, race_name, race_type.
pub const RACES_MISSING_FIELDS: Probe = Probe {
    name: "races_missing_fields",
    params: &[Param::From, Param::To, Param::Limit],
    sql: "SELECT x.id || ' (' || CAST(x.race_date AS TEXT) || ') no'
                || CASE WHEN x.course_id IS NULL THEN ' course_id' ELSE '' END
                || CASE WHEN x.course_name IS NULL THEN ' course_name' ELSE '' END
                || CASE WHEN x.off_at IS NULL THEN ' off_at' ELSE '' END
                || CASE WHEN x.region IS NULL THEN ' region' ELSE '' END
                || CASE WHEN x.race_name IS NULL THEN ' race_name' ELSE '' END
                || CASE WHEN x.race_type IS NULL THEN ' race_type' ELSE '' END,
            COUNT(*) OVER ()
        FROM races x
        WHERE x.race_date BETWEEN $1 AND $2
          AND (x.course_id IS NULL OR x.course_name IS NULL OR x.off_at IS NULL OR x.region IS NULL
               OR x.race_name IS NULL OR x.race_type IS NULL)
        ORDER BY x.race_date, x.id LIMIT $3",
};

/// Runners lacking a column every runner has: horse_name, and position for a runner a result listed.
pub const RUNNERS_MISSING_FIELDS: Probe = Probe {
    name: "runners_missing_fields",
    params: &[Param::From, Param::To, Param::Limit],
    sql: "SELECT r.race_id || '/' || r.horse_id || ' no'
                || CASE WHEN r.horse_name IS NULL THEN ' horse_name' ELSE '' END
                || CASE WHEN r.result_updated_at IS NOT NULL AND r.position IS NULL THEN ' position' ELSE '' END,
            COUNT(*) OVER ()
        FROM runners r JOIN races x ON x.id = r.race_id
        WHERE x.race_date BETWEEN $1 AND $2
          AND (r.horse_name IS NULL OR (r.result_updated_at IS NOT NULL AND r.position IS NULL))
        ORDER BY r.race_id, r.horse_id LIMIT $3",
};

/// Races of a region other than those configured (`$3`: `GB,IRE`).
pub const RACES_OUTSIDE_REGIONS: Probe = Probe {
    name: "races_outside_regions",
    params: &[Param::From, Param::To, Param::Regions, Param::Limit],
    sql: "SELECT x.id || ' (' || CAST(x.race_date AS TEXT) || ', region ' || COALESCE(x.region, 'none') || ')',
            COUNT(*) OVER ()
        FROM races x
        WHERE x.race_date BETWEEN $1 AND $2
          AND (',' || CAST($3 AS TEXT) || ',') NOT LIKE ('%,' || UPPER(COALESCE(x.region, '')) || ',%')
        ORDER BY x.race_date, x.id LIMIT $4",
};

/// Races, not abandoned, that went off before the grace cutoff and have no result.
pub const RESULTS_OVERDUE: Probe = Probe {
    name: "results_overdue",
    params: &[Param::From, Param::To, Param::GraceCutoff, Param::Limit],
    sql: "SELECT x.id || ' (' || CAST(x.race_date AS TEXT) || ')', COUNT(*) OVER ()
        FROM races x
        WHERE x.race_date BETWEEN $1 AND $2 AND NOT x.has_result AND NOT COALESCE(x.is_abandoned, FALSE)
          AND x.off_at < $3
        ORDER BY x.race_date, x.off_at, x.id LIMIT $4",
};

/// Runners carrying no weight or less (`weight_lbs <= 0`).
pub const IMPOSSIBLE_WEIGHTS: Probe = Probe {
    name: "impossible_weights",
    params: &[Param::From, Param::To, Param::Limit],
    sql: "SELECT r.race_id || '/' || r.horse_id || ' weight_lbs ' || CAST(r.weight_lbs AS TEXT), COUNT(*) OVER ()
        FROM runners r JOIN races x ON x.id = r.race_id
        WHERE x.race_date BETWEEN $1 AND $2 AND r.weight_lbs <= 0
        ORDER BY r.race_id, r.horse_id LIMIT $3",
};

/// Runners with a decimal starting price below 1 (decimal odds include the stake).
pub const IMPOSSIBLE_SP: Probe = Probe {
    name: "impossible_sp",
    params: &[Param::From, Param::To, Param::Limit],
    sql: "SELECT r.race_id || '/' || r.horse_id || ' sp_decimal ' || CAST(r.sp_decimal AS TEXT), COUNT(*) OVER ()
        FROM runners r JOIN races x ON x.id = r.race_id
        WHERE x.race_date BETWEEN $1 AND $2 AND r.sp_decimal < 1
        ORDER BY r.race_id, r.horse_id LIMIT $3",
};

/// Races with a result that have not happened yet: a racing day after today, or an off time after now.
pub const FUTURE_RESULTS: Probe = Probe {
    name: "future_results",
    params: &[Param::Yesterday, Param::Today, Param::Now, Param::Limit],
    sql: "SELECT x.id || ' (' || CAST(x.race_date AS TEXT) || ')', COUNT(*) OVER ()
        FROM races x
        WHERE x.race_date >= $1 AND x.has_result AND (x.race_date > $2 OR x.off_at > $3)
        ORDER BY x.race_date, x.id LIMIT $4",
};

/// Every probe, for the tests that hold them all to their placeholders and indexes.
pub const ALL: [Probe; 11] = [
    RUNNERS_WITHOUT_RACES,
    RACES_WITHOUT_COURSES,
    ENTITIES_WITHOUT_ROWS,
    DUPLICATE_RACES,
    RACES_MISSING_FIELDS,
    RUNNERS_MISSING_FIELDS,
    RACES_OUTSIDE_REGIONS,
    RESULTS_OVERDUE,
    IMPOSSIBLE_WEIGHTS,
    IMPOSSIBLE_SP,
    FUTURE_RESULTS,
];

/// How many declared runners a non-runners text names: entries are `Name (reason)` separated by
/// commas, and a reason may hold commas too (`Moostar (withdrawn, vet's advice)`).
pub fn count_non_runners(text: Option<&str>) -> i64 {
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return 0;
    }
    if text.contains('(') {
        text.matches("), ").count() as i64 + 1
    } else {
        text.split(',').filter(|s| !s.trim().is_empty()).count() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_runners_are_counted_by_entry_whatever_their_reasons_hold() {
        assert_eq!(count_non_runners(None), 0);
        assert_eq!(count_non_runners(Some("  ")), 0);
        assert_eq!(count_non_runners(Some("Miss Chester (self certificate, coughing)")), 1);
        assert_eq!(
            count_non_runners(Some("Darn Hot Time (self certificate, off feed), Moostar (withdrawn, vet's advice)")),
            2
        );
        assert_eq!(
            count_non_runners(Some("How's The Guvnor (unsuitable ground), Just King High (travel problems)")),
            2
        );
        assert_eq!(count_non_runners(Some("Sea Storm (IRE) (vet's certificate), Blue (self cert)")), 2);
        assert_eq!(count_non_runners(Some("Alpha, Beta")), 2);
    }

    #[test]
    fn every_probe_binds_each_placeholder_it_uses_in_order() {
        for probe in ALL {
            for n in 1..=probe.params.len() {
                assert!(probe.sql.contains(&format!("${n}")), "{} does not use ${n}", probe.name);
            }
            let next = probe.params.len() + 1;
            assert!(!probe.sql.contains(&format!("${next}")), "{} uses ${next} but binds fewer", probe.name);
            assert_eq!(probe.params.last(), Some(&Param::Limit), "{} ends with its limit", probe.name);
        }
    }
}
