//! The SQL of the session store, for one configured table. Expiry is decided in SQL against
//! the `now` the session layer passes (its injected clock), so an expired row is never
//! returned, whatever the sweep has done yet.

use crate::postgres_client::quote_ident;

/// The new `"ExpiresAtTime"` of a row used at `$2`: `now + sliding`, capped by the absolute
/// expiration; unchanged for a row without sliding expiration.
const SLID: &str = "CASE WHEN \"SlidingExpirationInSeconds\" IS NULL THEN \"ExpiresAtTime\" \
     WHEN \"AbsoluteExpiration\" IS NOT NULL AND \"AbsoluteExpiration\" < \
     $2 + make_interval(secs => \"SlidingExpirationInSeconds\") THEN \"AbsoluteExpiration\" \
     ELSE $2 + make_interval(secs => \"SlidingExpirationInSeconds\") END";

/// The statements for one `schema.table`.
#[derive(Debug, Clone)]
pub(super) struct Statements {
    pub(super) qualified: String,
    /// `$1` id, `$2` now: slides the expiration of a live row and returns it (one round trip).
    pub(super) load: String,
    /// `$1` id, `$2` now: slides the expiration of a live row.
    pub(super) refresh: String,
    /// `$1` id, `$2` now: the live row, without touching it (after a failed save).
    pub(super) current: String,
    /// `$1` id, `$2` now, `$3` value, `$4` expires, `$5` sliding s, `$6` absolute: inserts, or
    /// replaces an expired row. Returns a row when written.
    pub(super) insert: String,
    /// `$1` id, `$2` now, `$3` value, `$4` expires, `$5` sliding s, `$6` absolute, `$7`
    /// SHA-256 of the expected value: replaces the live row if its value is the expected one.
    pub(super) replace: String,
    /// `$1` id.
    pub(super) delete: String,
    /// `$1` now, `$2` first page, `$3` page after the last: deletes the expired rows stored
    /// in those pages (a TID range scan: no index needed, each statement short).
    pub(super) sweep: String,
    /// `$1` the qualified name: the table's size in pages.
    pub(super) pages: String,
    /// `$1` id, `$2` now: the live value of a user's index row, locked for the swap.
    pub(super) user_current: String,
    /// `$1` id, `$2` value, `$3` expires: writes a user's index row.
    pub(super) user_upsert: String,
    /// Whether the table exists (`$1` the qualified name).
    pub(super) exists: String,
    /// The DDL (schema for non-public schemas, table). No index on `"ExpiresAtTime"`, as in
    /// the PostgreSQL cache's own table: every save changes that column, and an index on it
    /// would rule out HOT updates.
    pub(super) create: Vec<String>,
}

impl Statements {
    pub(super) fn new(schema: &str, table: &str) -> Self {
        let q = format!("{}.{}", quote_ident(schema), quote_ident(table));
        let columns = "\"Value\", \"AbsoluteExpiration\", \"SlidingExpirationInSeconds\"";
        let load = format!(
            "UPDATE {q} SET \"ExpiresAtTime\" = {SLID} \
             WHERE \"Id\" = $1 AND \"ExpiresAtTime\" >= $2 RETURNING {columns}"
        );
        let refresh = format!(
            "UPDATE {q} SET \"ExpiresAtTime\" = {SLID} \
             WHERE \"Id\" = $1 AND \"ExpiresAtTime\" >= $2 AND \"SlidingExpirationInSeconds\" IS NOT NULL"
        );
        let current =
            format!("SELECT {columns} FROM {q} WHERE \"Id\" = $1 AND \"ExpiresAtTime\" >= $2");
        let set = "\"Value\" = EXCLUDED.\"Value\", \"ExpiresAtTime\" = EXCLUDED.\"ExpiresAtTime\", \
             \"SlidingExpirationInSeconds\" = EXCLUDED.\"SlidingExpirationInSeconds\", \
             \"AbsoluteExpiration\" = EXCLUDED.\"AbsoluteExpiration\"";
        let insert = format!(
            "INSERT INTO {q} AS t (\"Id\", \"Value\", \"ExpiresAtTime\", \"SlidingExpirationInSeconds\", \
             \"AbsoluteExpiration\") VALUES ($1, $3, $4, $5, $6) \
             ON CONFLICT (\"Id\") DO UPDATE SET {set} WHERE t.\"ExpiresAtTime\" < $2 RETURNING 1"
        );
        let replace = format!(
            "UPDATE {q} SET \"Value\" = $3, \"ExpiresAtTime\" = $4, \
             \"SlidingExpirationInSeconds\" = $5, \"AbsoluteExpiration\" = $6 \
             WHERE \"Id\" = $1 AND \"ExpiresAtTime\" >= $2 AND sha256(\"Value\") = $7"
        );
        let delete = format!("DELETE FROM {q} WHERE \"Id\" = $1");
        let sweep = format!(
            "DELETE FROM {q} WHERE ctid >= ('(' || $2::bigint || ',0)')::tid \
             AND ctid < ('(' || $3::bigint || ',0)')::tid AND \"ExpiresAtTime\" < $1"
        );
        let user_current = format!(
            "SELECT \"Value\", \"ExpiresAtTime\" >= $2 FROM {q} WHERE \"Id\" = $1 FOR UPDATE"
        );
        let user_upsert = format!(
            "INSERT INTO {q} (\"Id\", \"Value\", \"ExpiresAtTime\", \"SlidingExpirationInSeconds\", \
             \"AbsoluteExpiration\") VALUES ($1, $2, $3, NULL, $3) \
             ON CONFLICT (\"Id\") DO UPDATE SET {set}"
        );
        let mut create = Vec::new();
        if schema != "public" {
            create.push(format!(
                "CREATE SCHEMA IF NOT EXISTS {}",
                quote_ident(schema)
            ));
        }
        create.push(format!(
            "CREATE TABLE IF NOT EXISTS {q} (\n    \
             \"Id\" text COLLATE \"C\" NOT NULL,\n    \
             \"Value\" bytea NOT NULL,\n    \
             \"ExpiresAtTime\" timestamptz NOT NULL,\n    \
             \"SlidingExpirationInSeconds\" double precision,\n    \
             \"AbsoluteExpiration\" timestamptz,\n    \
             CONSTRAINT {} PRIMARY KEY (\"Id\")\n)",
            quote_ident(&format!("PK_{table}"))
        ));
        Self {
            qualified: q,
            load,
            refresh,
            current,
            insert,
            replace,
            delete,
            sweep,
            user_current,
            user_upsert,
            pages:
                "SELECT pg_relation_size(to_regclass($1)) / current_setting('block_size')::bigint"
                    .to_owned(),
            exists: "SELECT to_regclass($1) IS NOT NULL".to_owned(),
            create,
        }
    }
}
