//! The grant each write- and query-API operation needs, checked against the caller's before
//! the operation runs (the query API's Query checks the databases its SQL reads itself).

use super::json::Obj;
use crate::engine::Engine;
use crate::engine::auth::{Access, Principal};
use crate::engine::error::ApiResult;

fn arn(engine: &Engine, db: &str, table: Option<&str>) -> String {
    let c = &engine.config;
    match table {
        Some(t) => format!("arn:aws:timestream:{}:{}:database/{db}/table/{t}", c.region, c.account),
        None => format!("arn:aws:timestream:{}:{}:database/{db}", c.region, c.account),
    }
}

/// The database an ARN names (`arn:aws:timestream:<region>:<account>:database/<db>[/table/<t>]`).
fn database_of(arn: &str) -> Option<&str> {
    arn.split_once(":database/").map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
}

/// Whether `principal` may run `op` with the members `o`.
pub(super) fn check(engine: &Engine, principal: &Principal, op: &str, o: &Obj<'_>) -> ApiResult<()> {
    let (access, db) = match op {
        "CreateDatabase" | "UpdateDatabase" | "DeleteDatabase" | "CreateTable" | "UpdateTable" | "DeleteTable" => {
            (Access::Write, o.opt_str("DatabaseName")?)
        }
        "DescribeDatabase" | "DescribeTable" | "ListTables" => (Access::Read, o.opt_str("DatabaseName")?),
        "TagResource" | "UntagResource" => (Access::Write, o.opt_str("ResourceARN")?.and_then(database_of)),
        "ListTagsForResource" => (Access::Read, o.opt_str("ResourceARN")?.and_then(database_of)),
        // Lists show only what the caller may read; the rest needs no grant, or is refused as
        // unknown by dispatch.
        "ListDatabases" => (Access::Read, None),
        _ => return Ok(()),
    };
    let allowed = match db {
        Some(db) => principal.allows(access, db),
        None => principal.grants.allows_any(access),
    };
    if allowed {
        return Ok(());
    }
    let table = o.opt_str("TableName").ok().flatten();
    let resource = match db {
        Some(db) => arn(engine, db, table),
        None => format!("arn:aws:timestream:{}:{}:database/*", engine.config.region, engine.config.account),
    };
    Err(principal.denied(op, &resource))
}

/// Whether `principal` may write records into database `db`.
pub(super) fn check_write_records(engine: &Engine, principal: &Principal, db: Option<&str>) -> ApiResult<()> {
    match db {
        Some(db) if !principal.allows(Access::Write, db) => {
            Err(principal.denied("WriteRecords", &arn(engine, db, None)))
        }
        None if !principal.grants.allows_any(Access::Write) => {
            Err(principal.denied("WriteRecords", &arn(engine, "*", None)))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_their_database() {
        assert_eq!(
            database_of("arn:aws:timestream:us-east-1:000000000000:database/ruuvi/table/sensors"),
            Some("ruuvi")
        );
        assert_eq!(database_of("arn:aws:timestream:us-east-1:000000000000:database/ruuvi"), Some("ruuvi"));
        assert_eq!(database_of("not an arn"), None);
    }
}
