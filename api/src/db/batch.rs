//! Statements over a whole batch of keys or rows at once.
//!
//! A scan batch reads and writes up to 500 containers. Written with diesel's DSL or
//! `sql_query`, such statements change text with every batch (`IN (?, ?, ...)`, `VALUES`
//! lists), so diesel cannot keep them prepared and SQLite parses them anew each time. Here the
//! batch travels as one bound JSON text that the statement reads with `json_each(?)`: the text
//! is fixed, diesel keeps the statement prepared, and nothing is parsed per batch but the
//! JSON. PostgreSQL binds whole arrays (`PgArrays`), in a statement it also keeps prepared.

use chrono::{Datelike, NaiveDateTime, Timelike};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel::{QueryResult, RunQueryDsl};

/// A statement with exactly one placeholder, bound to a JSON text.
pub struct JsonBatch {
    head: &'static str,
    tail: &'static str,
    json: String,
}

impl JsonBatch {
    /// `sql` holds exactly one `?`, where the JSON text is bound.
    pub fn new(sql: &'static str, json: String) -> JsonBatch {
        let (head, tail) = sql.split_once('?').unwrap_or((sql, ""));
        JsonBatch { head, tail, json }
    }

    /// The same statement over a JSON array of strings (ids, codes).
    pub fn keys<S: AsRef<str>>(sql: &'static str, keys: &[S]) -> JsonBatch {
        let keys: Vec<&str> = keys.iter().map(AsRef::as_ref).collect();
        // Serialising a list of strings cannot fail.
        JsonBatch::new(sql, serde_json::to_string(&keys).unwrap_or_default())
    }
}

/// diesel's text form of a SQLite timestamp (`%F %T%.f`: no fraction, or 3, 6 or 9 digits),
/// written out directly: chrono interprets its format string anew on every call, and a scan
/// batch formats a thousand timestamps.
pub fn timestamp_text(t: NaiveDateTime) -> String {
    use std::fmt::Write;
    let (d, c) = (t.date(), t.time());
    let mut s = String::with_capacity(26);
    let _ = write!(
        s,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        d.year(),
        d.month(),
        d.day(),
        c.hour(),
        c.minute(),
        c.second()
    );
    let ns = c.nanosecond() % 1_000_000_000;
    let _ = if ns == 0 {
        Ok(())
    } else if ns % 1_000_000 == 0 {
        write!(s, ".{:03}", ns / 1_000_000)
    } else if ns % 1_000 == 0 {
        write!(s, ".{:06}", ns / 1_000)
    } else {
        write!(s, ".{ns:09}")
    };
    s
}

impl QueryId for JsonBatch {
    type QueryId = ();
    // Not static: diesel then caches the prepared statement by its SQL text, which is fixed.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Sqlite> for JsonBatch {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql(self.head);
        out.push_bind_param::<diesel::sql_types::Text, _>(&self.json)?;
        out.push_sql(self.tail);
        Ok(())
    }
}

impl Query for JsonBatch {
    type SqlType = diesel::sql_types::Untyped;
}

impl RunQueryDsl<SqliteConnection> for JsonBatch {}

/// PostgreSQL: a statement over two bound text arrays (`unnest($1, $2)`), with a fixed text
/// that diesel keeps prepared (`sql_query` is parsed and planned on every call).
pub struct PgArrays<'a> {
    parts: [&'static str; 3],
    a: Vec<&'a str>,
    b: Vec<&'a str>,
}

impl<'a> PgArrays<'a> {
    /// `sql` holds exactly two `?`: where `a` and then `b` are bound as `text[]`.
    pub fn new(sql: &'static str, a: Vec<&'a str>, b: Vec<&'a str>) -> PgArrays<'a> {
        let (head, rest) = sql.split_once('?').unwrap_or((sql, ""));
        let (mid, tail) = rest.split_once('?').unwrap_or((rest, ""));
        PgArrays {
            parts: [head, mid, tail],
            a,
            b,
        }
    }
}

impl QueryId for PgArrays<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<diesel::pg::Pg> for PgArrays<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        use diesel::sql_types::{Array, Text};
        out.push_sql(self.parts[0]);
        out.push_bind_param::<Array<Text>, _>(&self.a)?;
        out.push_sql(self.parts[1]);
        out.push_bind_param::<Array<Text>, _>(&self.b)?;
        out.push_sql(self.parts[2]);
        Ok(())
    }
}

impl Query for PgArrays<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl RunQueryDsl<diesel::PgConnection> for PgArrays<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::Connection;
    use diesel::connection::SimpleConnection;

    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        k: String,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        v: i32,
    }

    /// The timestamp text is byte for byte what diesel stores for the same value.
    #[test]
    fn timestamps_are_written_as_diesel_writes_them() {
        #[derive(diesel::QueryableByName)]
        struct T {
            #[diesel(sql_type = diesel::sql_types::Text)]
            t: String,
        }
        let mut c = SqliteConnection::establish(":memory:").expect("sqlite");
        let base = chrono::DateTime::from_timestamp(1_764_000_000, 0)
            .expect("time")
            .naive_utc();
        for nanos in [
            0,
            1,
            999,
            1_000,
            120_000,
            500_000_000,
            123_456_000,
            999_999_999,
        ] {
            for secs in [0, 59, 86_399, 40_000_000] {
                let t =
                    base + chrono::Duration::seconds(secs) + chrono::Duration::nanoseconds(nanos);
                let stored: T = diesel::sql_query("SELECT CAST(? AS TEXT) AS t")
                    .bind::<diesel::sql_types::Timestamp, _>(t)
                    .get_result(&mut c)
                    .expect("select");
                assert_eq!(timestamp_text(t), stored.t, "{t:?}");
            }
        }
    }

    /// Reads and writes a batch through one bound JSON text, including keys that need
    /// quoting, and runs the same statement twice (the second time from diesel's cache).
    #[test]
    fn a_batch_travels_as_one_json_text() {
        let mut c = SqliteConnection::establish(":memory:").expect("sqlite");
        c.batch_execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL);")
            .expect("table");
        for n in [1, 2] {
            let rows = serde_json::json!([["a'b", n], ["c\"d", 2 * n], ["é", 3 * n]]).to_string();
            JsonBatch::new(
                "INSERT OR REPLACE INTO t (k, v) SELECT j.value ->> 0, j.value ->> 1 \
                 FROM json_each(?) AS j",
                rows,
            )
            .execute(&mut c)
            .expect("insert");
        }
        let got: Vec<Row> = JsonBatch::keys(
            "SELECT k, v FROM t WHERE k IN (SELECT value FROM json_each(?)) ORDER BY v",
            &["é", "a'b", "nope"],
        )
        .load(&mut c)
        .expect("select");
        assert_eq!(
            got,
            [
                Row {
                    k: "a'b".into(),
                    v: 2
                },
                Row {
                    k: "é".into(),
                    v: 6
                }
            ]
        );
    }
}
