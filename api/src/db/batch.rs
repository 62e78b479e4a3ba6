//! SQLite statements over a whole batch of keys or rows at once.
//!
//! A scan batch reads and writes up to 500 containers. Written with diesel's DSL or
//! `sql_query`, such statements change text with every batch (`IN (?, ?, ...)`, `VALUES`
//! lists), so diesel cannot keep them prepared and SQLite parses them anew each time. Here the
//! batch travels as one bound JSON text that the statement reads with `json_each(?)`: the text
//! is fixed, diesel keeps the statement prepared, and nothing is parsed per batch but the
//! JSON. (PostgreSQL binds whole arrays already; this is for SQLite only.)

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
