//! Name rules for databases, tables, dimensions and measures.

use crate::engine::error::{ApiError, ApiResult};

/// Checks a database or table name given to a create operation: 3–256 bytes of
/// `[a-zA-Z0-9_.-]`. Names are never used as paths, so this is the service's rule, not a
/// safety measure.
pub fn check_create_name(value: &str, path: &str) -> ApiResult<()> {
    if value.len() < 3 {
        return Err(ApiError::constraint(value, path, "Member must have length greater than or equal to 3"));
    }
    if value.len() > 256 {
        return Err(ApiError::constraint(value, path, "Member must have length less than or equal to 256"));
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
        return Err(ApiError::constraint(
            value,
            path,
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ));
    }
    Ok(())
}

/// Why a dimension or measure name cannot be a column, if it cannot: the reserved system
/// identifiers, the `ts_` and `measure_name` prefixes, and (for dimensions) `:`.
pub fn reserved_column(name: &str) -> Option<&'static str> {
    match name {
        "measure_value" | "ts_non_existent_col" | "time" | "measure_name" => Some("is a reserved column name"),
        _ if name.starts_with("ts_") => Some("starts with the reserved prefix ts_"),
        _ if name.starts_with("measure_name") => Some("starts with the reserved prefix measure_name"),
        _ if name.starts_with("measure_value") => Some("starts with the reserved prefix measure_value"),
        _ => None,
    }
}
