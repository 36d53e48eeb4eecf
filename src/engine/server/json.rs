//! Reading request members out of awsJson bodies, with the service's error types: a wrong JSON
//! type is a SerializationException, a missing or out-of-range member a ValidationException
//! naming its path the way Coral does (`records.1.member.measureName`).

use serde_json::{Map, Value};

use crate::engine::error::{ApiError, ApiResult};

/// The members of one JSON object, with the path used in error messages.
#[derive(Clone)]
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

/// lowerCamelCase of a member name (`DatabaseName` → `databaseName`), as Coral paths use.
fn camel(name: &str) -> String {
    let mut c = name.chars();
    c.next().map(|f| f.to_ascii_lowercase().to_string() + c.as_str()).unwrap_or_default()
}

impl<'a> Obj<'a> {
    /// The top-level body.
    pub fn root(value: &'a Value) -> ApiResult<Self> {
        match value {
            Value::Object(map) => Ok(Self { map, path: String::new() }),
            _ => Err(ApiError::serialization("Request body must be a JSON object")),
        }
    }

    /// The Coral path of member `name` inside this object.
    pub fn path_of(&self, name: &str) -> String {
        if self.path.is_empty() { camel(name) } else { format!("{}.{}", self.path, camel(name)) }
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn wrong_type(&self, name: &str, want: &str) -> ApiError {
        ApiError::serialization(format!("Member '{}' must be {want}", self.path_of(name)))
    }

    /// An optional string member.
    pub fn opt_str(&self, name: &str) -> ApiResult<Option<&'a str>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong_type(name, "a string")),
        }
    }

    /// A required string member.
    pub fn str(&self, name: &str) -> ApiResult<&'a str> {
        self.opt_str(name)?.ok_or_else(|| ApiError::missing(&self.path_of(name)))
    }

    /// An optional integer member.
    pub fn opt_i64(&self, name: &str) -> ApiResult<Option<i64>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| self.wrong_type(name, "an integer")),
            Some(_) => Err(self.wrong_type(name, "an integer")),
        }
    }

    /// An optional boolean member.
    pub fn opt_bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.wrong_type(name, "a boolean")),
        }
    }

    /// An optional list member.
    pub fn opt_list(&self, name: &str) -> ApiResult<Option<&'a Vec<Value>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(self.wrong_type(name, "a list")),
        }
    }

    /// An optional structure member.
    pub fn opt_obj(&self, name: &str) -> ApiResult<Option<Obj<'a>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj { map, path: self.path_of(name) })),
            Some(_) => Err(self.wrong_type(name, "a structure")),
        }
    }

    /// The structure `value`, element `index` (0-based) of list member `name`, with the 1-based
    /// `.member` path Coral uses.
    pub fn element(&self, name: &str, index: usize, value: &'a Value) -> ApiResult<Obj<'a>> {
        let path = format!("{}.{}.member", self.path_of(name), index + 1);
        match value {
            Value::Object(map) => Ok(Obj { map, path }),
            _ => Err(ApiError::serialization(format!("Member '{path}' must be a structure"))),
        }
    }

    /// The elements of list member `name` as strings (for `TagKeys`).
    pub fn str_list(&self, name: &str) -> ApiResult<Option<Vec<&'a str>>> {
        let Some(list) = self.opt_list(name)? else { return Ok(None) };
        list.iter()
            .map(|v| v.as_str().ok_or_else(|| self.wrong_type(name, "a list of strings")))
            .collect::<ApiResult<Vec<_>>>()
            .map(Some)
    }

    /// A string length constraint on member `name` with value `v` (in bytes, as the service
    /// counts).
    pub fn check_len(&self, name: &str, v: &str, min: usize, max: usize) -> ApiResult<()> {
        if v.len() < min {
            return Err(ApiError::constraint(
                v,
                &self.path_of(name),
                &format!("Member must have length greater than or equal to {min}"),
            ));
        }
        if v.len() > max {
            return Err(ApiError::constraint(
                v,
                &self.path_of(name),
                &format!("Member must have length less than or equal to {max}"),
            ));
        }
        Ok(())
    }

    /// A numeric range constraint on member `name`.
    pub fn check_range(&self, name: &str, v: i64, min: i64, max: i64) -> ApiResult<()> {
        if v < min {
            return Err(ApiError::constraint(
                &v.to_string(),
                &self.path_of(name),
                &format!("Member must have value greater than or equal to {min}"),
            ));
        }
        if v > max {
            return Err(ApiError::constraint(
                &v.to_string(),
                &self.path_of(name),
                &format!("Member must have value less than or equal to {max}"),
            ));
        }
        Ok(())
    }

    /// An enum constraint on member `name`.
    pub fn check_enum<'v>(&self, name: &str, v: &'v str, allowed: &[&str]) -> ApiResult<&'v str> {
        if allowed.contains(&v) {
            Ok(v)
        } else {
            Err(ApiError::constraint(
                v,
                &self.path_of(name),
                &format!("Member must satisfy enum value set: [{}]", allowed.join(", ")),
            ))
        }
    }
}
