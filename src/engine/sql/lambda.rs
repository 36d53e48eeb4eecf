//! Presto's lambda functions over time series and arrays: `FILTER(ts, x -> x.value > 70)`,
//! `REDUCE(ts, 0.0, (s, x) -> s + x.value, s -> s)`, `TRANSFORM(a, x -> x * 2)` and
//! `ANY_MATCH`/`ALL_MATCH`/`NONE_MATCH(a, x -> …)`.
//!
//! DataFusion has no lambdas, so the rewrite passes each lambda as its SQL text (a string
//! literal) and these functions parse it once per batch and interpret it per element. A lambda
//! may use its parameters (a time-series element is a row with `.time` and `.value`), literals,
//! arithmetic, comparisons, `AND`/`OR`/`NOT`, `IS [NOT] NULL`, `BETWEEN`, `CASE`, `CAST`,
//! intervals and a few scalar functions; anything else is refused when the query is planned.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, BooleanArray, ListArray, new_null_array};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field, FieldRef, TimeUnit};
use datafusion::common::{Result, ScalarValue, exec_err, plan_datafusion_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr, LambdaFunction, UnaryOperator, Value};
use datafusion::sql::sqlparser::parser::Parser;

use super::dialect::TimestreamDialect;

/// The lambda functions to register on a session.
pub fn all() -> Vec<ScalarUDF> {
    [Kind::Filter, Kind::Transform, Kind::Reduce, Kind::AnyMatch, Kind::AllMatch, Kind::NoneMatch]
        .into_iter()
        .map(|kind| ScalarUDF::from(LambdaUdf::new(kind)))
        .collect()
}

/// The names of the functions that take lambdas (the rewrite turns their lambda arguments
/// into text).
pub const NAMES: [&str; 6] = ["filter", "transform", "reduce", "any_match", "all_match", "none_match"];

/// A value while a lambda runs.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    /// ns since the epoch.
    Ts(i64),
    /// A day-to-second interval in ns.
    Interval(i64),
    /// A time-series element: time (ns) and value.
    Row(i64, Box<V>),
}

/// The type of a lambda value.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Null,
    Bool,
    Int,
    Double,
    Str,
    Ts(Option<Arc<str>>),
    Interval,
    Row(Option<Arc<str>>, Box<Ty>),
}

impl Ty {
    fn of(dt: &DataType) -> Result<Self> {
        Ok(match dt {
            DataType::Null => Self::Null,
            DataType::Boolean => Self::Bool,
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Self::Int,
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => Self::Int,
            DataType::Float32 | DataType::Float64 => Self::Double,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Self::Str,
            DataType::Timestamp(_, tz) => Self::Ts(tz.clone()),
            DataType::Struct(fields)
                if fields.len() == 2 && matches!(fields[0].data_type(), DataType::Timestamp(..)) =>
            {
                let DataType::Timestamp(_, tz) = fields[0].data_type() else { unreachable!() };
                Self::Row(tz.clone(), Box::new(Self::of(fields[1].data_type())?))
            }
            other => return plan_err!("lambda functions do not take elements of type {other}"),
        })
    }

    fn arrow(&self) -> Result<DataType> {
        Ok(match self {
            Self::Null => DataType::Null,
            Self::Bool => DataType::Boolean,
            Self::Int => DataType::Int64,
            Self::Double => DataType::Float64,
            Self::Str => DataType::Utf8,
            Self::Ts(tz) => DataType::Timestamp(TimeUnit::Nanosecond, tz.clone()),
            Self::Interval | Self::Row(..) => return plan_err!("a lambda may not return {self:?} values"),
        })
    }

    fn numeric(&self) -> bool {
        matches!(self, Self::Int | Self::Double | Self::Null)
    }
}

/// A parsed lambda: parameter names and body.
#[derive(Debug)]
struct Lambda {
    params: Vec<String>,
    body: Expr,
}

impl Lambda {
    fn parse(text: &str, arity: usize) -> Result<Self> {
        let expr = Parser::new(&TimestreamDialect)
            .try_with_sql(text)
            .and_then(|mut p| p.parse_expr())
            .map_err(|e| plan_datafusion_err!("invalid lambda {text:?}: {e}"))?;
        let Expr::Lambda(LambdaFunction { params, body, .. }) = expr else {
            return plan_err!("expected a lambda such as x -> x.value > 0, got {text:?}");
        };
        let params: Vec<String> = params.iter().map(|p| p.name.value.clone()).collect();
        if params.len() != arity {
            return plan_err!("expected a lambda of {arity} parameter(s), got {text:?}");
        }
        Ok(Self { params, body: *body })
    }

    fn param(&self, name: &str) -> Result<usize> {
        self.params.iter().position(|p| p == name).ok_or_else(|| {
            plan_datafusion_err!("a lambda can only use its parameters; '{name}' is not one of {:?}", self.params)
        })
    }

    fn infer(&self, args: &[Ty]) -> Result<Ty> {
        self.infer_expr(&self.body, args)
    }

    fn infer_expr(&self, e: &Expr, args: &[Ty]) -> Result<Ty> {
        Ok(match e {
            Expr::Identifier(id) => args[self.param(&id.value)?].clone(),
            Expr::CompoundIdentifier(parts) => match (parts.as_slice(), parts.len()) {
                ([p, field], 2) => match (&args[self.param(&p.value)?], field.value.as_str()) {
                    (Ty::Row(tz, _), "time") => Ty::Ts(tz.clone()),
                    (Ty::Row(_, v), "value") => (**v).clone(),
                    (t, f) => return plan_err!("{t:?} has no field {f:?} (a time-series element has time and value)"),
                },
                _ => return plan_err!("unsupported name in a lambda: {e}"),
            },
            Expr::Value(v) => match literal(&v.value)? {
                V::Null => Ty::Null,
                V::Bool(_) => Ty::Bool,
                V::Int(_) => Ty::Int,
                V::Double(_) => Ty::Double,
                _ => Ty::Str,
            },
            Expr::Interval(_) => {
                eval_interval(e)?;
                Ty::Interval
            }
            Expr::Nested(inner) => self.infer_expr(inner, args)?,
            Expr::UnaryOp { op: UnaryOperator::Not, expr } => {
                self.infer_expr(expr, args)?;
                Ty::Bool
            }
            Expr::UnaryOp { op: UnaryOperator::Minus | UnaryOperator::Plus, expr } => self.infer_expr(expr, args)?,
            Expr::IsNull(x) | Expr::IsNotNull(x) | Expr::IsTrue(x) | Expr::IsFalse(x) => {
                self.infer_expr(x, args)?;
                Ty::Bool
            }
            Expr::Between { expr, low, high, .. } => {
                for x in [expr, low, high] {
                    self.infer_expr(x, args)?;
                }
                Ty::Bool
            }
            Expr::BinaryOp { left, op, right } => {
                let (l, r) = (self.infer_expr(left, args)?, self.infer_expr(right, args)?);
                binary_type(&l, op, &r)?
            }
            Expr::Cast { data_type, expr, .. } => {
                self.infer_expr(expr, args)?;
                cast_type(&data_type.to_string())?
            }
            Expr::Case { operand, conditions, else_result, .. } => {
                if let Some(o) = operand {
                    self.infer_expr(o, args)?;
                }
                let mut ty = Ty::Null;
                for c in conditions {
                    self.infer_expr(&c.condition, args)?;
                    ty = unify(ty, self.infer_expr(&c.result, args)?)?;
                }
                if let Some(e) = else_result {
                    ty = unify(ty, self.infer_expr(e, args)?)?;
                }
                ty
            }
            Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("arrow_cast") => {
                let (value, target) = arrow_cast_args(f)?;
                match (self.infer_expr(value, args)?, target) {
                    (Ty::Int | Ty::Null, ArrowCast::Timestamp) => Ty::Ts(Some("UTC".into())),
                    (Ty::Ts(_) | Ty::Int | Ty::Null, ArrowCast::Int64) => Ty::Int,
                    (t, _) => return plan_err!("unsupported conversion of {t:?} in a lambda"),
                }
            }
            Expr::Function(f) => {
                let name = f.name.to_string().to_ascii_lowercase();
                let tys = function_args(f)?.iter().map(|a| self.infer_expr(a, args)).collect::<Result<Vec<_>>>()?;
                function_type(&name, &tys)?
            }
            other => return plan_err!("unsupported expression in a lambda: {other}"),
        })
    }

    fn eval(&self, args: &[V]) -> Result<V> {
        self.eval_expr(&self.body, args)
    }

    fn eval_expr(&self, e: &Expr, args: &[V]) -> Result<V> {
        Ok(match e {
            Expr::Identifier(id) => args[self.param(&id.value)?].clone(),
            Expr::CompoundIdentifier(parts) => match (&args[self.param(&parts[0].value)?], parts[1].value.as_str()) {
                (V::Row(t, _), "time") => V::Ts(*t),
                (V::Row(_, v), "value") => (**v).clone(),
                _ => V::Null,
            },
            Expr::Value(v) => literal(&v.value)?,
            Expr::Interval(_) => V::Interval(eval_interval(e)?),
            Expr::Nested(inner) => self.eval_expr(inner, args)?,
            Expr::UnaryOp { op, expr } => match (op, self.eval_expr(expr, args)?) {
                (_, V::Null) => V::Null,
                (UnaryOperator::Not, V::Bool(b)) => V::Bool(!b),
                (UnaryOperator::Minus, V::Int(i)) => V::Int(i.checked_neg().ok_or_else(overflow)?),
                (UnaryOperator::Minus, V::Double(d)) => V::Double(-d),
                (UnaryOperator::Minus, V::Interval(i)) => V::Interval(i.checked_neg().ok_or_else(overflow)?),
                (UnaryOperator::Plus, v) => v,
                (op, v) => return exec_err!("cannot apply {op} to {v:?}"),
            },
            Expr::IsNull(x) => V::Bool(self.eval_expr(x, args)? == V::Null),
            Expr::IsNotNull(x) => V::Bool(self.eval_expr(x, args)? != V::Null),
            Expr::IsTrue(x) => V::Bool(self.eval_expr(x, args)? == V::Bool(true)),
            Expr::IsFalse(x) => V::Bool(self.eval_expr(x, args)? == V::Bool(false)),
            Expr::Between { expr, negated, low, high } => {
                let x = self.eval_expr(expr, args)?;
                let ge = compare(&x, &self.eval_expr(low, args)?)?.map(|o| o != Ordering::Less);
                let le = compare(&x, &self.eval_expr(high, args)?)?.map(|o| o != Ordering::Greater);
                match and(ge.map(V::Bool).unwrap_or(V::Null), le.map(V::Bool).unwrap_or(V::Null))? {
                    V::Bool(b) => V::Bool(b != *negated),
                    other => other,
                }
            }
            Expr::BinaryOp { left, op, right } => {
                binary(self.eval_expr(left, args)?, op, self.eval_expr(right, args)?)?
            }
            Expr::Cast { data_type, expr, .. } => {
                cast(self.eval_expr(expr, args)?, &cast_type(&data_type.to_string())?)?
            }
            Expr::Case { operand, conditions, else_result, .. } => {
                let subject = operand.as_ref().map(|o| self.eval_expr(o, args)).transpose()?;
                for c in conditions {
                    let cond = self.eval_expr(&c.condition, args)?;
                    let hit = match &subject {
                        Some(s) => compare(s, &cond)? == Some(Ordering::Equal),
                        None => cond == V::Bool(true),
                    };
                    if hit {
                        return self.eval_expr(&c.result, args);
                    }
                }
                match else_result {
                    Some(e) => self.eval_expr(e, args)?,
                    None => V::Null,
                }
            }
            Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("arrow_cast") => {
                let (value, target) = arrow_cast_args(f)?;
                match (self.eval_expr(value, args)?, target) {
                    (V::Int(ns), ArrowCast::Timestamp) => V::Ts(ns),
                    (V::Ts(ns) | V::Int(ns), ArrowCast::Int64) => V::Int(ns),
                    _ => V::Null,
                }
            }
            Expr::Function(f) => {
                let name = f.name.to_string().to_ascii_lowercase();
                let vals = function_args(f)?.iter().map(|a| self.eval_expr(a, args)).collect::<Result<Vec<_>>>()?;
                call(&name, vals)?
            }
            other => return exec_err!("unsupported expression in a lambda: {other}"),
        })
    }
}

fn overflow() -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Execution(
        "overflow in a lambda (a bigint, time or interval out of range)".into(),
    )
}

fn literal(v: &Value) -> Result<V> {
    Ok(match v {
        Value::Null => V::Null,
        Value::Boolean(b) => V::Bool(*b),
        Value::Number(n, _) => match n.parse::<i64>() {
            Ok(i) => V::Int(i),
            Err(_) => V::Double(n.parse().map_err(|_| plan_datafusion_err!("bad number {n}"))?),
        },
        Value::SingleQuotedString(s) => V::Str(s.clone()),
        other => return plan_err!("unsupported literal in a lambda: {other}"),
    })
}

/// `INTERVAL '10 minutes'` (as the rewrite writes `10m`) in ns.
fn eval_interval(e: &Expr) -> Result<i64> {
    let text = match e {
        Expr::Interval(i) if i.leading_field.is_none() => match i.value.as_ref() {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) => s.clone(),
                _ => String::new(),
            },
            _ => String::new(),
        },
        _ => String::new(),
    };
    let mut words = text.split_whitespace();
    let (Some(n), Some(unit), None) = (words.next(), words.next(), words.next()) else {
        return plan_err!("unsupported interval in a lambda: {e}");
    };
    let n: f64 = n.parse().map_err(|_| plan_datafusion_err!("unsupported interval in a lambda: {e}"))?;
    let unit_ns: f64 = match unit.trim_end_matches('s') {
        "nanosecond" => 1.0,
        "microsecond" => 1e3,
        "millisecond" => 1e6,
        "second" => 1e9,
        "minute" => 60e9,
        "hour" => 3600e9,
        "day" => 86400e9,
        _ => return plan_err!("unsupported interval in a lambda: {e}"),
    };
    let ns = (n * unit_ns).round();
    if ns.is_nan() || ns.abs() >= 9.2e18 {
        return plan_err!("interval out of range in a lambda: {e}");
    }
    Ok(ns as i64)
}

fn function_args(f: &datafusion::sql::sqlparser::ast::Function) -> Result<Vec<&Expr>> {
    use datafusion::sql::sqlparser::ast::{FunctionArg, FunctionArgExpr, FunctionArguments};
    match &f.args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
                _ => plan_err!("unsupported argument in a lambda: {a}"),
            })
            .collect(),
        FunctionArguments::None => Ok(Vec::new()),
        FunctionArguments::Subquery(_) => plan_err!("subqueries are not allowed in a lambda"),
    }
}

/// The conversions the rewrite writes with `arrow_cast` (for `now()`, `ago()`,
/// `from_milliseconds()`, `to_nanoseconds()` and the like).
enum ArrowCast {
    Timestamp,
    Int64,
}

fn arrow_cast_args(f: &datafusion::sql::sqlparser::ast::Function) -> Result<(&Expr, ArrowCast)> {
    if let [value, Expr::Value(target)] = function_args(f)?.as_slice()
        && let Value::SingleQuotedString(target) = &target.value
    {
        if target.starts_with("Timestamp(Nanosecond") {
            return Ok((value, ArrowCast::Timestamp));
        }
        if target == "Int64" {
            return Ok((value, ArrowCast::Int64));
        }
    }
    plan_err!("unsupported conversion in a lambda: {f}")
}

fn cast_type(name: &str) -> Result<Ty> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "double" | "real" | "float" => Ty::Double,
        "bigint" | "int" | "integer" => Ty::Int,
        "varchar" => Ty::Str,
        "boolean" => Ty::Bool,
        other => return plan_err!("a lambda cannot cast to {other}"),
    })
}

fn cast(v: V, to: &Ty) -> Result<V> {
    Ok(match (v, to) {
        (V::Null, _) => V::Null,
        (V::Int(i), Ty::Double) => V::Double(i as f64),
        (V::Double(d), Ty::Int) => V::Int(d.round() as i64),
        (V::Bool(b), Ty::Int) => V::Int(i64::from(b)),
        (V::Str(s), Ty::Double) => V::Double(s.trim().parse().map_err(|_| plan_datafusion_err!("cannot cast {s:?}"))?),
        (V::Str(s), Ty::Int) => V::Int(s.trim().parse().map_err(|_| plan_datafusion_err!("cannot cast {s:?}"))?),
        (V::Int(i), Ty::Str) => V::Str(i.to_string()),
        (V::Double(d), Ty::Str) => V::Str(crate::types::format_double(d)),
        (V::Bool(b), Ty::Str) => V::Str(b.to_string()),
        (V::Int(i), Ty::Bool) => V::Bool(i != 0),
        (v, t) if value_type_matches(&v, t) => v,
        (v, t) => return exec_err!("cannot cast {v:?} to {t:?}"),
    })
}

fn value_type_matches(v: &V, t: &Ty) -> bool {
    matches!((v, t), (V::Bool(_), Ty::Bool) | (V::Int(_), Ty::Int) | (V::Double(_), Ty::Double) | (V::Str(_), Ty::Str))
}

/// The common type of two branches (null fits anything; bigint widens to double).
fn unify(a: Ty, b: Ty) -> Result<Ty> {
    Ok(match (a, b) {
        (Ty::Null, t) | (t, Ty::Null) => t,
        (Ty::Int, Ty::Double) | (Ty::Double, Ty::Int) => Ty::Double,
        (a, b) if a == b => a,
        (Ty::Ts(a), Ty::Ts(_)) => Ty::Ts(a),
        (a, b) => return plan_err!("a lambda mixes {a:?} and {b:?}"),
    })
}

fn binary_type(l: &Ty, op: &BinaryOperator, r: &Ty) -> Result<Ty> {
    use BinaryOperator as B;
    Ok(match op {
        B::And | B::Or | B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq => Ty::Bool,
        B::StringConcat => Ty::Str,
        B::Plus | B::Minus | B::Multiply | B::Divide | B::Modulo => match (l, r) {
            (Ty::Ts(tz), Ty::Interval) | (Ty::Interval, Ty::Ts(tz)) => Ty::Ts(tz.clone()),
            (Ty::Interval, Ty::Interval) => Ty::Interval,
            (Ty::Ts(_), Ty::Ts(_)) if *op == B::Minus => Ty::Interval,
            (Ty::Int, Ty::Int) => Ty::Int,
            (Ty::Null, Ty::Null) => Ty::Null,
            (a, b) if a.numeric() && b.numeric() => Ty::Double,
            (a, b) => return plan_err!("cannot apply {op} to {a:?} and {b:?} in a lambda"),
        },
        other => return plan_err!("unsupported operator in a lambda: {other}"),
    })
}

fn and(a: V, b: V) -> Result<V> {
    Ok(match (a, b) {
        (V::Bool(false), _) | (_, V::Bool(false)) => V::Bool(false),
        (V::Bool(true), V::Bool(true)) => V::Bool(true),
        (V::Null | V::Bool(true), V::Null | V::Bool(true)) => V::Null,
        (a, b) => return exec_err!("AND needs booleans, got {a:?} and {b:?}"),
    })
}

fn or(a: V, b: V) -> Result<V> {
    Ok(match (a, b) {
        (V::Bool(true), _) | (_, V::Bool(true)) => V::Bool(true),
        (V::Bool(false), V::Bool(false)) => V::Bool(false),
        (V::Null | V::Bool(false), V::Null | V::Bool(false)) => V::Null,
        (a, b) => return exec_err!("OR needs booleans, got {a:?} and {b:?}"),
    })
}

/// SQL comparison; `None` when either side is null.
fn compare(a: &V, b: &V) -> Result<Option<Ordering>> {
    Ok(match (a, b) {
        (V::Null, _) | (_, V::Null) => None,
        (V::Int(x), V::Int(y)) => Some(x.cmp(y)),
        (V::Int(x), V::Double(y)) => (*x as f64).partial_cmp(y),
        (V::Double(x), V::Int(y)) => x.partial_cmp(&(*y as f64)),
        (V::Double(x), V::Double(y)) => x.partial_cmp(y),
        (V::Str(x), V::Str(y)) => Some(x.cmp(y)),
        (V::Bool(x), V::Bool(y)) => Some(x.cmp(y)),
        (V::Ts(x), V::Ts(y)) | (V::Interval(x), V::Interval(y)) => Some(x.cmp(y)),
        (a, b) => return exec_err!("cannot compare {a:?} with {b:?}"),
    })
}

fn binary(l: V, op: &BinaryOperator, r: V) -> Result<V> {
    use BinaryOperator as B;
    let cmp =
        |want: fn(Ordering) -> bool| -> Result<V> { Ok(compare(&l, &r)?.map(|o| V::Bool(want(o))).unwrap_or(V::Null)) };
    match op {
        B::And => return and(l, r),
        B::Or => return or(l, r),
        B::Eq => return cmp(|o| o == Ordering::Equal),
        B::NotEq => return cmp(|o| o != Ordering::Equal),
        B::Lt => return cmp(|o| o == Ordering::Less),
        B::LtEq => return cmp(|o| o != Ordering::Greater),
        B::Gt => return cmp(|o| o == Ordering::Greater),
        B::GtEq => return cmp(|o| o != Ordering::Less),
        _ => {}
    }
    Ok(match (l, r) {
        (V::Null, _) | (_, V::Null) => V::Null,
        (V::Str(a), V::Str(b)) if *op == B::StringConcat => V::Str(a + &b),
        (V::Int(a), V::Int(b)) => V::Int(
            match op {
                B::Plus => a.checked_add(b),
                B::Minus => a.checked_sub(b),
                B::Multiply => a.checked_mul(b),
                B::Divide if b == 0 => return exec_err!("Division by zero"),
                B::Divide => a.checked_div(b),
                B::Modulo if b == 0 => return exec_err!("Division by zero"),
                B::Modulo => a.checked_rem(b),
                _ => return exec_err!("unsupported operator in a lambda: {op}"),
            }
            .ok_or_else(overflow)?,
        ),
        (V::Ts(t), V::Interval(i)) | (V::Interval(i), V::Ts(t)) if *op == B::Plus => {
            V::Ts(t.checked_add(i).ok_or_else(overflow)?)
        }
        (V::Ts(t), V::Interval(i)) if *op == B::Minus => V::Ts(t.checked_sub(i).ok_or_else(overflow)?),
        (V::Ts(a), V::Ts(b)) if *op == B::Minus => V::Interval(a.checked_sub(b).ok_or_else(overflow)?),
        (V::Interval(a), V::Interval(b)) if *op == B::Plus => V::Interval(a.checked_add(b).ok_or_else(overflow)?),
        (V::Interval(a), V::Interval(b)) if *op == B::Minus => V::Interval(a.checked_sub(b).ok_or_else(overflow)?),
        (a, b) => {
            let (Some(x), Some(y)) = (as_f64(&a), as_f64(&b)) else {
                return exec_err!("cannot apply {op} to {a:?} and {b:?}");
            };
            V::Double(match op {
                B::Plus => x + y,
                B::Minus => x - y,
                B::Multiply => x * y,
                B::Divide => x / y,
                B::Modulo => x % y,
                _ => return exec_err!("unsupported operator in a lambda: {op}"),
            })
        }
    })
}

fn as_f64(v: &V) -> Option<f64> {
    match v {
        V::Int(i) => Some(*i as f64),
        V::Double(d) => Some(*d),
        _ => None,
    }
}

/// The scalar functions a lambda may call.
fn function_type(name: &str, args: &[Ty]) -> Result<Ty> {
    Ok(match (name, args) {
        ("abs" | "sign", [t]) if t.numeric() => t.clone(),
        ("round" | "floor" | "ceil" | "ceiling", [t, ..]) if t.numeric() => t.clone(),
        ("sqrt" | "ln" | "exp" | "log10" | "log2", [t]) if t.numeric() => Ty::Double,
        ("power" | "pow", [a, b]) if a.numeric() && b.numeric() => Ty::Double,
        ("greatest" | "least" | "coalesce", [first, rest @ ..]) => {
            rest.iter().cloned().try_fold(first.clone(), unify)?
        }
        ("if", [_, a]) => a.clone(),
        ("if", [_, a, b]) => unify(a.clone(), b.clone())?,
        ("length", [Ty::Str]) => Ty::Int,
        ("lower" | "upper", [Ty::Str]) => Ty::Str,
        _ => return plan_err!("unsupported function in a lambda: {name} with {} argument(s)", args.len()),
    })
}

fn call(name: &str, args: Vec<V>) -> Result<V> {
    let num = |v: &V| as_f64(v);
    Ok(match (name, args.as_slice()) {
        ("if", [c, rest @ ..]) => match (c, rest) {
            (V::Bool(true), [a, ..]) => a.clone(),
            (_, [_, b]) => b.clone(),
            _ => V::Null,
        },
        ("coalesce", vals) => vals.iter().find(|v| **v != V::Null).cloned().unwrap_or(V::Null),
        ("greatest" | "least", vals) => {
            let mut best: Option<V> = None;
            for v in vals {
                if *v == V::Null {
                    return Ok(V::Null);
                }
                let better = match &best {
                    None => true,
                    Some(b) => {
                        let o = compare(v, b)?;
                        if name == "greatest" { o == Some(Ordering::Greater) } else { o == Some(Ordering::Less) }
                    }
                };
                if better {
                    best = Some(v.clone());
                }
            }
            best.unwrap_or(V::Null)
        }
        (_, [V::Null, ..]) => V::Null,
        ("abs", [V::Int(i)]) => V::Int(i.checked_abs().ok_or_else(overflow)?),
        ("sign", [V::Int(i)]) => V::Int(i.signum()),
        ("round" | "floor" | "ceil" | "ceiling", [V::Int(i), ..]) => V::Int(*i),
        ("round", [x, d]) => {
            let (x, d) = (num(x).unwrap_or(f64::NAN), num(d).unwrap_or(0.0));
            let k = 10f64.powi(d as i32);
            V::Double((x * k).round() / k)
        }
        ("length", [V::Str(s)]) => V::Int(s.chars().count() as i64),
        ("lower", [V::Str(s)]) => V::Str(s.to_lowercase()),
        ("upper", [V::Str(s)]) => V::Str(s.to_uppercase()),
        ("power" | "pow", [a, b]) => V::Double(num(a).unwrap_or(f64::NAN).powf(num(b).unwrap_or(f64::NAN))),
        (f, [x]) => {
            let Some(x) = num(x) else { return exec_err!("{f} needs a number") };
            V::Double(match f {
                "abs" => x.abs(),
                "sign" => x.signum(),
                "round" => x.round(),
                "floor" => x.floor(),
                "ceil" | "ceiling" => x.ceil(),
                "sqrt" => x.sqrt(),
                "ln" => x.ln(),
                "exp" => x.exp(),
                "log10" => x.log10(),
                "log2" => x.log2(),
                _ => return exec_err!("unsupported function in a lambda: {f}"),
            })
        }
        (f, _) => return exec_err!("unsupported function in a lambda: {f}"),
    })
}

/// What a lambda function does with the elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Filter,
    Transform,
    Reduce,
    AnyMatch,
    AllMatch,
    NoneMatch,
}

/// One lambda function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LambdaUdf {
    kind: Kind,
    signature: Signature,
}

impl LambdaUdf {
    fn new(kind: Kind) -> Self {
        let args = if kind == Kind::Reduce { 4 } else { 2 };
        Self { kind, signature: Signature::any(args, Volatility::Immutable) }
    }
}

/// The element type of a list argument.
fn element_type(dt: &DataType) -> Result<Ty> {
    match dt {
        DataType::List(item) => Ty::of(item.data_type()),
        DataType::Null => Ok(Ty::Null),
        other => plan_err!("expected a time series or an array, got {other}"),
    }
}

/// The text of a lambda argument, which must be a literal (the rewrite makes it one).
fn lambda_text(scalar: Option<&ScalarValue>) -> Result<&str> {
    match scalar {
        Some(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s))) => Ok(s),
        _ => plan_err!("expected a lambda such as x -> x.value > 0"),
    }
}

/// The state type of REDUCE: the initial value's, widened to what the step returns.
fn reduce_types(init: &Ty, element: &Ty, step: &Lambda, output: &Lambda) -> Result<(Ty, Ty)> {
    let state = unify(init.clone(), step.infer(&[init.clone(), element.clone()])?)?;
    let state = unify(state.clone(), step.infer(&[state.clone(), element.clone()])?)?;
    let out = output.infer(std::slice::from_ref(&state))?;
    Ok((state, out))
}

impl ScalarUDFImpl for LambdaUdf {
    fn name(&self) -> &str {
        match self.kind {
            Kind::Filter => "filter",
            Kind::Transform => "transform",
            Kind::Reduce => "reduce",
            Kind::AnyMatch => "any_match",
            Kind::AllMatch => "all_match",
            Kind::NoneMatch => "none_match",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        plan_err!("{} needs its lambda argument to plan", self.name())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let list = args.arg_fields[0].data_type();
        let element = element_type(list)?;
        let dt = match self.kind {
            Kind::Filter => {
                let f = Lambda::parse(lambda_text(args.scalar_arguments[1])?, 1)?;
                if !matches!(f.infer(&[element])?, Ty::Bool | Ty::Null) {
                    return plan_err!("the lambda of filter must return a boolean");
                }
                list.clone()
            }
            Kind::AnyMatch | Kind::AllMatch | Kind::NoneMatch => {
                Lambda::parse(lambda_text(args.scalar_arguments[1])?, 1)?.infer(&[element])?;
                DataType::Boolean
            }
            Kind::Transform => {
                let t = Lambda::parse(lambda_text(args.scalar_arguments[1])?, 1)?.infer(&[element])?;
                DataType::List(Arc::new(Field::new("item", t.arrow()?, true)))
            }
            Kind::Reduce => {
                let step = Lambda::parse(lambda_text(args.scalar_arguments[2])?, 2)?;
                let output = Lambda::parse(lambda_text(args.scalar_arguments[3])?, 1)?;
                let init = Ty::of(args.arg_fields[1].data_type())?;
                reduce_types(&init, &element, &step, &output)?.1.arrow()?
            }
        };
        Ok(Arc::new(Field::new(self.name(), dt, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let text = |i: usize| -> Result<String> {
            match &args.args[i] {
                ColumnarValue::Scalar(s) => lambda_text(Some(s)).map(str::to_string),
                ColumnarValue::Array(_) => exec_err!("expected a lambda such as x -> x.value > 0"),
            }
        };
        let list_arr = args.args[0].to_array(n)?;
        if list_arr.data_type() == &DataType::Null {
            return Ok(ColumnarValue::Array(new_null_array(args.return_field.data_type(), n)));
        }
        let list = list_arr.as_list::<i32>();
        let element = element_type(list.data_type())?;
        let values = list.values();
        let reader = Reader::new(values, &element)?;
        let read = |i: usize| reader.read(i);
        let offsets = list.value_offsets();
        match self.kind {
            Kind::Filter => {
                let f = Lambda::parse(&text(1)?, 1)?;
                // Offsets are monotonic, so the rows cover values[base..end] in order.
                let (base, end) = (offsets[0] as usize, offsets[n] as usize);
                let mut keep = BooleanBuilder::with_capacity(end - base);
                let mut lengths = Vec::with_capacity(n);
                for row in 0..n {
                    let mut kept = 0;
                    for i in offsets[row] as usize..offsets[row + 1] as usize {
                        let hit = list.is_valid(row) && f.eval(&[read(i)?])? == V::Bool(true);
                        kept += usize::from(hit);
                        keep.append_value(hit);
                    }
                    lengths.push(kept);
                }
                let mask: BooleanArray = keep.finish();
                let kept = datafusion::arrow::compute::filter(values.slice(base, end - base).as_ref(), &mask)?;
                let DataType::List(item) = list.data_type() else { unreachable!() };
                let out =
                    ListArray::try_new(item.clone(), OffsetBuffer::from_lengths(lengths), kept, list.nulls().cloned())?;
                Ok(ColumnarValue::Array(Arc::new(out)))
            }
            Kind::AnyMatch | Kind::AllMatch | Kind::NoneMatch => {
                let f = Lambda::parse(&text(1)?, 1)?;
                let mut out = BooleanBuilder::with_capacity(n);
                for row in 0..n {
                    if list.is_null(row) {
                        out.append_null();
                        continue;
                    }
                    // Presto: any_match is true if one is true, null if none is and one is null.
                    let (mut any_true, mut any_false, mut any_null) = (false, false, false);
                    for i in offsets[row] as usize..offsets[row + 1] as usize {
                        match f.eval(&[read(i)?])? {
                            V::Bool(true) => any_true = true,
                            V::Bool(false) => any_false = true,
                            _ => any_null = true,
                        }
                    }
                    let (decided, when_decided) = match self.kind {
                        Kind::AnyMatch => (any_true, true),
                        Kind::AllMatch => (any_false, false),
                        _ => (any_true, false),
                    };
                    let result = if decided {
                        Some(when_decided)
                    } else if any_null {
                        None
                    } else {
                        Some(!when_decided)
                    };
                    out.append_option(result);
                }
                Ok(ColumnarValue::Array(Arc::new(out.finish())))
            }
            Kind::Transform => {
                let f = Lambda::parse(&text(1)?, 1)?;
                let DataType::List(item) = args.return_field.data_type() else {
                    return exec_err!("transform returns a list");
                };
                let mut out = Vec::with_capacity(values.len());
                let mut lengths = Vec::with_capacity(n);
                for row in 0..n {
                    let (from, to) = (offsets[row] as usize, offsets[row + 1] as usize);
                    let valid = list.is_valid(row);
                    lengths.push(if valid { to - from } else { 0 });
                    if valid {
                        for i in from..to {
                            out.push(f.eval(&[read(i)?])?);
                        }
                    }
                }
                let items = build(&out, item.data_type())?;
                let out = ListArray::try_new(
                    item.clone(),
                    OffsetBuffer::from_lengths(lengths),
                    items,
                    list.nulls().cloned(),
                )?;
                Ok(ColumnarValue::Array(Arc::new(out)))
            }
            Kind::Reduce => {
                let (step, output) = (Lambda::parse(&text(2)?, 2)?, Lambda::parse(&text(3)?, 1)?);
                let init = args.args[1].to_array(n)?;
                let init_ty = Ty::of(init.data_type())?;
                let (state_ty, _) = reduce_types(&init_ty, &element, &step, &output)?;
                let init = Reader::new(&init, &init_ty)?;
                let mut out = Vec::with_capacity(n);
                for row in 0..n {
                    if list.is_null(row) {
                        out.push(V::Null);
                        continue;
                    }
                    let mut state = widen(init.read(row)?, &state_ty);
                    for i in offsets[row] as usize..offsets[row + 1] as usize {
                        state = widen(step.eval(&[state, read(i)?])?, &state_ty);
                    }
                    out.push(output.eval(&[state])?);
                }
                Ok(ColumnarValue::Array(build(&out, args.return_field.data_type())?))
            }
        }
    }
}

/// A bigint state stays a double once the state type is double.
fn widen(v: V, ty: &Ty) -> V {
    match (v, ty) {
        (V::Int(i), Ty::Double) => V::Double(i as f64),
        (v, _) => v,
    }
}

/// The elements of an array as lambda values: the array is cast once, when the reader is made,
/// to the Arrow type its values are read in.
struct Reader {
    /// The array as it came (its nulls, for the kinds that are not cast).
    array: ArrayRef,
    kind: ReadAs,
}

enum ReadAs {
    Null,
    Bool,
    /// Cast to Int64.
    Int(ArrayRef),
    /// Cast to Float64.
    Double(ArrayRef),
    /// Cast to Utf8.
    Str(ArrayRef),
    /// Nanoseconds since the epoch, as Int64.
    Ts(ArrayRef),
    Interval,
    /// A time series point: its times (nanoseconds, Int64) and its values.
    Row(ArrayRef, Box<Reader>),
}

impl Reader {
    /// A reader of `array`, whose elements are of lambda type `ty`.
    fn new(array: &ArrayRef, ty: &Ty) -> Result<Self> {
        let kind = match ty {
            Ty::Null => ReadAs::Null,
            Ty::Bool => ReadAs::Bool,
            Ty::Int => ReadAs::Int(arrow_cast::cast(array, &DataType::Int64)?),
            Ty::Double => ReadAs::Double(arrow_cast::cast(array, &DataType::Float64)?),
            Ty::Str => ReadAs::Str(arrow_cast::cast(array, &DataType::Utf8)?),
            Ty::Ts(_) => ReadAs::Ts(timestamps_ns(array)?),
            Ty::Interval => ReadAs::Interval,
            Ty::Row(_, value) => {
                let s = array.as_struct();
                ReadAs::Row(timestamps_ns(s.column(0))?, Box::new(Reader::new(s.column(1), value)?))
            }
        };
        Ok(Self { array: array.clone(), kind })
    }

    /// Element `i`.
    fn read(&self, i: usize) -> Result<V> {
        // A value the cast could not carry over (out of range) is null, like a null element.
        let present = |a: &ArrayRef| !a.is_null(i);
        Ok(match &self.kind {
            _ if self.array.is_null(i) => V::Null,
            ReadAs::Null => V::Null,
            ReadAs::Bool => V::Bool(self.array.as_boolean().value(i)),
            ReadAs::Int(a) if present(a) => V::Int(a.as_primitive::<Int64Type>().value(i)),
            ReadAs::Double(a) if present(a) => V::Double(a.as_primitive::<Float64Type>().value(i)),
            ReadAs::Str(a) if present(a) => V::Str(a.as_string::<i32>().value(i).to_string()),
            ReadAs::Ts(a) if present(a) => V::Ts(a.as_primitive::<Int64Type>().value(i)),
            ReadAs::Int(_) | ReadAs::Double(_) | ReadAs::Str(_) | ReadAs::Ts(_) => V::Null,
            ReadAs::Interval => return exec_err!("interval elements are not supported in lambdas"),
            ReadAs::Row(times, value) => V::Row(times.as_primitive::<Int64Type>().value(i), Box::new(value.read(i)?)),
        })
    }
}

/// Timestamps of any unit as nanoseconds since the epoch (Int64).
fn timestamps_ns(array: &ArrayRef) -> Result<ArrayRef> {
    let a = arrow_cast::cast(array, &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
    Ok(arrow_cast::cast(&a, &DataType::Int64)?)
}

/// An Arrow array of type `dt` from lambda results.
fn build(values: &[V], dt: &DataType) -> Result<ArrayRef> {
    let bad = |v: &V| exec_err!("a lambda returned {v:?} where {dt} was expected");
    Ok(match dt {
        DataType::Null => new_null_array(dt, values.len()),
        DataType::Boolean => {
            let mut b = BooleanBuilder::with_capacity(values.len());
            for v in values {
                match v {
                    V::Bool(x) => b.append_value(*x),
                    V::Null => b.append_null(),
                    v => return bad(v),
                }
            }
            Arc::new(b.finish())
        }
        DataType::Int64 => {
            let mut b = Int64Builder::with_capacity(values.len());
            for v in values {
                match v {
                    V::Int(x) => b.append_value(*x),
                    V::Null => b.append_null(),
                    v => return bad(v),
                }
            }
            Arc::new(b.finish())
        }
        DataType::Float64 => {
            let mut b = Float64Builder::with_capacity(values.len());
            for v in values {
                match v {
                    V::Double(x) => b.append_value(*x),
                    V::Int(x) => b.append_value(*x as f64),
                    V::Null => b.append_null(),
                    v => return bad(v),
                }
            }
            Arc::new(b.finish())
        }
        DataType::Utf8 => {
            let mut b = StringBuilder::new();
            for v in values {
                match v {
                    V::Str(x) => b.append_value(x),
                    V::Null => b.append_null(),
                    v => return bad(v),
                }
            }
            Arc::new(b.finish())
        }
        DataType::Timestamp(TimeUnit::Nanosecond, tz) => {
            let mut b = TimestampNanosecondBuilder::with_capacity(values.len());
            for v in values {
                match v {
                    V::Ts(x) => b.append_value(*x),
                    V::Null => b.append_null(),
                    v => return bad(v),
                }
            }
            Arc::new(b.finish().with_timezone_opt(tz.clone()))
        }
        other => return exec_err!("a lambda cannot return {other}"),
    })
}
