//! What a principal may do: read (query, describe, list) and write (write records, create,
//! update and delete tables and databases, tag), each for all databases or a set of them.

use std::collections::BTreeSet;

use crate::engine::error::{ApiError, ApiErrorKind, shown};

/// A set of databases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Databases {
    /// Every database, present and future.
    All,
    /// Only these (none when empty).
    Only(BTreeSet<String>),
}

impl Databases {
    /// No database.
    pub fn none() -> Self {
        Self::Only(BTreeSet::new())
    }

    /// Whether `db` is in the set.
    pub fn contains(&self, db: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(set) => set.contains(db),
        }
    }

    /// `*` for every database, else a comma-separated list of names (an empty text is none).
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        if text == "*" {
            return Self::All;
        }
        Self::Only(text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
    }
}

impl std::fmt::Display for Databases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::All => f.write_str("*"),
            Self::Only(set) => f.write_str(&set.iter().cloned().collect::<Vec<_>>().join(", ")),
        }
    }
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Query, Describe*, List*, CancelQuery, PrepareQuery.
    Read,
    /// WriteRecords, Create*, Update*, Delete*, TagResource, UntagResource.
    Write,
}

/// The databases a principal may read and write. Writing implies reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    /// Databases it may read.
    pub read: Databases,
    /// Databases it may also write.
    pub write: Databases,
}

impl Grants {
    /// Everything.
    pub fn all() -> Self {
        Self { read: Databases::All, write: Databases::All }
    }

    /// Reading `databases`, writing nothing.
    pub fn read_only(databases: Databases) -> Self {
        Self { read: databases, write: Databases::none() }
    }

    /// Whether `access` to `db` is granted.
    pub fn allows(&self, access: Access, db: &str) -> bool {
        match access {
            Access::Read => self.read.contains(db) || self.write.contains(db),
            Access::Write => self.write.contains(db),
        }
    }

    /// Whether `access` to any database at all is granted.
    pub fn allows_any(&self, access: Access) -> bool {
        let some = |d: &Databases| matches!(d, Databases::All) || matches!(d, Databases::Only(s) if !s.is_empty());
        match access {
            Access::Read => some(&self.read) || some(&self.write),
            Access::Write => some(&self.write),
        }
    }
}

/// Who made a request, and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The access key that signed the request (empty when anyone is let in). Query results
    /// belong to it: only it may page through them or cancel them.
    pub access_key_id: String,
    /// What it may do.
    pub grants: Grants,
}

impl Principal {
    /// Anyone, with every grant: what an engine that checks no credentials serves.
    pub fn anyone() -> Self {
        Self { access_key_id: String::new(), grants: Grants::all() }
    }

    /// Whether `access` to `db` is granted.
    pub fn allows(&self, access: Access, db: &str) -> bool {
        self.grants.allows(access, db)
    }

    /// The AccessDeniedException for `action` (`WriteRecords`, `Select`, …) on `resource` (an
    /// ARN), in the words IAM uses.
    pub fn denied(&self, action: &str, resource: &str) -> ApiError {
        ApiError::new(
            ApiErrorKind::AccessDenied,
            format!(
                "User: {} is not authorized to perform: timestream:{action} on resource: {}",
                shown(&self.access_key_id),
                shown(resource)
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_implies_read_and_lists_are_exact() {
        let g = Grants { read: Databases::parse("ruuvi, home"), write: Databases::parse("ruuvi") };
        assert!(g.allows(Access::Read, "home") && g.allows(Access::Write, "ruuvi"));
        assert!(!g.allows(Access::Write, "home") && !g.allows(Access::Read, "other"));
        let writer = Grants { read: Databases::none(), write: Databases::parse("lab") };
        assert!(writer.allows(Access::Read, "lab") && writer.allows_any(Access::Read));
        assert!(!Grants::read_only(Databases::All).allows_any(Access::Write));
        assert_eq!(Databases::parse(" * "), Databases::All);
        assert_eq!(Databases::parse(""), Databases::none());
        assert_eq!(Databases::parse("b,a").to_string(), "a, b");
    }
}
