//! The access keys an engine accepts, read from a file in the AWS shared-credentials format
//! (the format of `~/.aws/credentials`), with two settings of the engine's own per profile:
//!
//! ```ini
//! # Full access: no read/write settings.
//! [admin]
//! aws_access_key_id = ADMINKEY
//! aws_secret_access_key = a-long-random-secret
//!
//! # Queries only, in the databases listed (or * for all).
//! [grafana]
//! aws_access_key_id = GRAFANAKEY
//! aws_secret_access_key = another-secret
//! read = ruuvi
//!
//! # Writes into one database (writing implies reading it).
//! [bridge]
//! aws_access_key_id = BRIDGEKEY
//! aws_secret_access_key = a-third-secret
//! write = ruuvi
//! ```
//!
//! As in AWS's own files, comments take whole lines (`#` or `;`): a value is everything after
//! the `=`, so that a secret may contain any character.
//!
//! A profile with neither `read` nor `write` may do everything; with either, exactly what they
//! list. `aws_session_token`, `region` and `output` are ignored (so that a copy of an AWS
//! credentials file loads); any other setting is an error, so that a misspelled `write` never
//! silently grants everything.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Databases, Grants};
use crate::error::{Error, Result};

/// One access key.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    /// The profile it came from (for messages).
    pub profile: String,
    /// The secret access key.
    pub secret: String,
    /// What requests signed with it may do.
    pub grants: Grants,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("profile", &self.profile)
            .field("secret", &"…")
            .field("grants", &self.grants)
            .finish()
    }
}

/// Access keys by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    by_id: BTreeMap<String, Key>,
}

fn invalid(message: String) -> Error {
    Error::InvalidArgument(message)
}

impl Keys {
    /// Adds a key; an error for an empty or malformed id or secret, or an id already there.
    pub fn add(&mut self, access_key_id: &str, secret: &str, grants: Grants) -> Result<()> {
        self.add_from(access_key_id, secret, grants, "")
    }

    fn add_from(&mut self, access_key_id: &str, secret: &str, grants: Grants, profile: &str) -> Result<()> {
        if access_key_id.is_empty()
            || access_key_id.contains(['/', ',', '='])
            || access_key_id.contains(char::is_whitespace)
        {
            return Err(invalid(format!(
                "an access key id must be non-empty, without spaces, '/', ',' or '=': {access_key_id:?}"
            )));
        }
        if secret.is_empty() {
            return Err(invalid(format!("the access key {access_key_id} has an empty secret")));
        }
        if self.by_id.contains_key(access_key_id) {
            return Err(invalid(format!("the access key {access_key_id} is given twice")));
        }
        let key = Key { profile: profile.to_string(), secret: secret.to_string(), grants };
        self.by_id.insert(access_key_id.to_string(), key);
        Ok(())
    }

    /// The key `access_key_id`.
    pub fn get(&self, access_key_id: &str) -> Option<&Key> {
        self.by_id.get(access_key_id)
    }

    /// Every key id, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().map(String::as_str)
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Reads keys from a file in the AWS shared-credentials format (see the module docs).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Io(std::io::Error::new(e.kind(), format!("cannot read credentials {}: {e}", path.display())))
        })?;
        Self::parse(&text).map_err(|e| invalid(format!("{}: {e}", path.display())))
    }

    /// Reads keys from text in the AWS shared-credentials format (see the module docs).
    ///
    /// ```
    /// use ruuvistream::engine::auth::{Access, Keys};
    /// let keys = Keys::parse("[reader]\naws_access_key_id = R\naws_secret_access_key = s\nread = ruuvi\n").unwrap();
    /// let grants = &keys.get("R").unwrap().grants;
    /// assert!(grants.allows(Access::Read, "ruuvi") && !grants.allows(Access::Write, "ruuvi"));
    /// ```
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        struct Profile {
            name: String,
            line: usize,
            settings: BTreeMap<String, String>,
        }
        let mut profiles: Vec<Profile> = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[') {
                let name = name.strip_suffix(']').ok_or(format!("line {}: a profile header must end with ]", n + 1))?;
                let name = name.trim().strip_prefix("profile ").unwrap_or(name.trim()).trim();
                profiles.push(Profile { name: name.to_string(), line: n + 1, settings: BTreeMap::new() });
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!("line {}: expected `name = value` or [profile]", n + 1));
            };
            let profile = profiles.last_mut().ok_or(format!("line {}: a setting before any [profile]", n + 1))?;
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            if !matches!(
                key.as_str(),
                "aws_access_key_id"
                    | "aws_secret_access_key"
                    | "read"
                    | "write"
                    | "aws_session_token"
                    | "region"
                    | "output"
            ) {
                return Err(format!(
                    "line {}: unknown setting {key:?} in profile [{}] (use aws_access_key_id, aws_secret_access_key, \
                     read, write)",
                    n + 1,
                    profile.name
                ));
            }
            profile.settings.insert(key, value.to_string());
        }
        let mut keys = Self::default();
        for p in profiles {
            let get = |k: &str| p.settings.get(k).map(String::as_str);
            let (Some(id), Some(secret)) = (get("aws_access_key_id"), get("aws_secret_access_key")) else {
                return Err(format!(
                    "profile [{}] (line {}) needs both aws_access_key_id and aws_secret_access_key",
                    p.name, p.line
                ));
            };
            let grants = match (get("read"), get("write")) {
                (None, None) => Grants::all(),
                (read, write) => Grants {
                    read: read.map_or_else(Databases::none, Databases::parse),
                    write: write.map_or_else(Databases::none, Databases::parse),
                },
            };
            keys.add_from(id, secret, grants, &p.name).map_err(|e| e.to_string())?;
        }
        if keys.is_empty() {
            return Err("no profiles with access keys".into());
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::auth::Access;

    #[test]
    fn profiles_give_keys_with_their_grants() {
        let keys = Keys::parse(
            "# engine keys\n[default]\naws_access_key_id = ADMIN\naws_secret_access_key = s1 #;x\nregion = eu-west-1\n\n\
             ; dashboards\n[profile grafana]\naws_access_key_id=GRAFANA\naws_secret_access_key=s2\nread = ruuvi, home\n\
             [bridge]\naws_access_key_id = BRIDGE\naws_secret_access_key = s3\nwrite = ruuvi\n",
        )
        .unwrap();
        assert_eq!(keys.ids().collect::<Vec<_>>(), ["ADMIN", "BRIDGE", "GRAFANA"]);
        assert_eq!(keys.get("ADMIN").unwrap().grants, Grants::all());
        assert_eq!(keys.get("ADMIN").unwrap().secret, "s1 #;x", "a secret may hold any character");
        let g = &keys.get("GRAFANA").unwrap().grants;
        assert!(g.allows(Access::Read, "home") && !g.allows(Access::Write, "ruuvi"));
        assert_eq!(keys.get("GRAFANA").unwrap().profile, "grafana");
        let b = &keys.get("BRIDGE").unwrap().grants;
        assert!(b.allows(Access::Write, "ruuvi") && b.allows(Access::Read, "ruuvi") && !b.allows(Access::Read, "home"));
        assert!(!format!("{:?}", keys).contains("s1"), "secrets stay out of debug output");
    }

    #[test]
    fn mistakes_are_reported_with_their_line() {
        let typo = Keys::parse("[k]\naws_access_key_id = A\naws_secret_access_key = s\nwirte = ruuvi\n").unwrap_err();
        assert!(typo.contains("line 4") && typo.contains("wirte"), "{typo}");
        let half = Keys::parse("[k]\naws_access_key_id = A\n").unwrap_err();
        assert!(half.contains("[k]") && half.contains("aws_secret_access_key"), "{half}");
        let twice = Keys::parse(
            "[a]\naws_access_key_id=A\naws_secret_access_key=s\n[b]\naws_access_key_id=A\naws_secret_access_key=t\n",
        );
        assert!(twice.unwrap_err().contains("given twice"));
        assert!(Keys::parse("").unwrap_err().contains("no profiles"));
        assert!(Keys::parse("x = y").unwrap_err().contains("before any [profile]"));
    }
}
