//! How deep a query's expressions nest, checked right after parsing and before anything else
//! walks them. Planning and evaluating recurse once per level, so depth is what could exhaust a
//! thread's stack; the parser itself builds chains such as `a OR b OR … ` of any length without
//! recursing, so a 256 KiB query can hold a chain 100,000 levels deep.
//!
//! Chains of AND and OR are first rebuilt as balanced trees of the same terms in the same order
//! (both operators are associative, NULLs included), so that a list of a thousand conditions
//! nests ten deep; every other expression counts as written.
//!
//! Plans nest too: each set operation (`UNION`, …), query, subquery, CTE and table a statement
//! names adds to the depth of the plan DataFusion builds, and `SELECT … UNION SELECT …` chains,
//! like operator chains, parse to any depth. Their number is bounded as well.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, Query, SetExpr, Statement, TableFactor, Value, VisitMut, VisitorMut,
};

use crate::engine::error::{ApiError, ApiResult};
use crate::engine::query::{MAX_EXPRESSION_DEPTH, MAX_QUERY_PARTS};

/// Balances AND/OR chains in `statement` and fails if any expression nests deeper than
/// [`MAX_EXPRESSION_DEPTH`], or the statement has more than [`MAX_QUERY_PARTS`] queries, set
/// operations and tables. Walks at most that deep into expressions, whatever the statement
/// holds.
pub fn check_depth(statement: &mut Statement) -> ApiResult<()> {
    let mut walk = Depth { depth: 0, parts: 0 };
    match statement.visit(&mut walk) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(TooDeep::Expression) => Err(ApiError::validation(format!(
            "The query's expressions nest more than {MAX_EXPRESSION_DEPTH} levels deep (each operator, function \
             call, CASE and cast is a level; AND and OR lists count as balanced). Simplify the expression, or \
             use IN (...) for long lists of values."
        ))),
        ControlFlow::Break(TooDeep::Parts) => Err(ApiError::validation(format!(
            "The query has more than {MAX_QUERY_PARTS} parts (queries, subqueries, set operations such as UNION, \
             and tables it reads). Split it into several queries."
        ))),
    }
}

/// What went too deep.
enum TooDeep {
    Expression,
    Parts,
}

struct Depth {
    depth: usize,
    parts: usize,
}

impl Depth {
    fn add_parts(&mut self, n: usize) -> ControlFlow<TooDeep> {
        self.parts = self.parts.saturating_add(n);
        if self.parts > MAX_QUERY_PARTS { ControlFlow::Break(TooDeep::Parts) } else { ControlFlow::Continue(()) }
    }
}

/// The set operations in `body`, counted with a stack of our own (a chain of them can be as
/// long as the query). Parenthesized queries inside count when they are visited themselves.
pub(super) fn set_operations(body: &SetExpr) -> usize {
    let mut count = 0usize;
    let mut pending = vec![body];
    while let Some(e) = pending.pop() {
        if let SetExpr::SetOperation { left, right, .. } = e {
            count += 1;
            pending.push(left);
            pending.push(right);
        }
    }
    count
}

impl VisitorMut for Depth {
    type Break = TooDeep;

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<TooDeep> {
        // Before the walk goes down a chain of set operations, which it does by recursion.
        self.add_parts(1 + set_operations(&query.body))
    }

    fn pre_visit_table_factor(&mut self, _table: &mut TableFactor) -> ControlFlow<TooDeep> {
        self.add_parts(1)
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<TooDeep> {
        balance(expr);
        self.depth += 1;
        if self.depth > MAX_EXPRESSION_DEPTH {
            ControlFlow::Break(TooDeep::Expression)
        } else {
            ControlFlow::Continue(())
        }
    }

    fn post_visit_expr(&mut self, _expr: &mut Expr) -> ControlFlow<TooDeep> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
}

/// Rebuilds a tree of one associative operator (AND or OR) as a balanced tree of its terms,
/// in their order. The parser builds such chains down the left side, any length deep, so the
/// terms are gathered with a stack of our own, never by recursion. A tree that is already
/// balanced comes out the same.
fn balance(expr: &mut Expr) {
    let Expr::BinaryOp { left, op, right } = expr else { return };
    if !matches!(op, BinaryOperator::And | BinaryOperator::Or) {
        return;
    }
    let same = |e: &Expr| matches!(e, Expr::BinaryOp { op: inner, .. } if inner == op);
    if !same(left) && !same(right) {
        return;
    }
    let op = op.clone();
    let mut terms = Vec::new();
    let mut pending = vec![std::mem::replace(expr, Expr::value(Value::Null))];
    while let Some(node) = pending.pop() {
        match node {
            Expr::BinaryOp { left, op: o, right } if o == op => {
                pending.push(*right);
                pending.push(*left);
            }
            other => terms.push(other),
        }
    }
    *expr = balanced(terms, &op);
}

/// `terms` joined by `op` as a balanced tree (recursion depth log2 of their number).
fn balanced(mut terms: Vec<Expr>, op: &BinaryOperator) -> Expr {
    if terms.len() == 1 {
        return terms.pop().unwrap_or_else(|| Expr::value(Value::Null));
    }
    let right = terms.split_off(terms.len() / 2);
    Expr::BinaryOp { left: Box::new(balanced(terms, op)), op: op.clone(), right: Box::new(balanced(right, op)) }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::parser::{DFParserBuilder, Statement as DFStatement};

    use super::*;
    use crate::engine::sql::TimestreamDialect;

    fn statement(sql: &str) -> Statement {
        let mut parsed = DFParserBuilder::new(sql).with_dialect(&TimestreamDialect).build().unwrap().parse_statements();
        match parsed.as_mut().unwrap().pop_front() {
            Some(DFStatement::Statement(s)) => *s,
            other => panic!("{other:?}"),
        }
    }

    /// The leaves of an AND/OR tree in order, and its height.
    fn leaves(e: &Expr, out: &mut Vec<String>) -> usize {
        match e {
            Expr::BinaryOp { left, op: BinaryOperator::And | BinaryOperator::Or, right } => {
                1 + leaves(left, out).max(leaves(right, out))
            }
            other => {
                out.push(other.to_string());
                0
            }
        }
    }

    fn selection(s: &Statement) -> &Expr {
        let Statement::Query(q) = s else { panic!("a query") };
        let datafusion::sql::sqlparser::ast::SetExpr::Select(select) = q.body.as_ref() else { panic!("a select") };
        select.selection.as_ref().expect("a WHERE clause")
    }

    #[test]
    fn long_or_lists_balance_and_keep_their_order() {
        let terms: Vec<String> = (0..1000).map(|i| format!("x = {i}")).collect();
        let mut s = statement(&format!("SELECT 1 WHERE {}", terms.join(" OR ")));
        check_depth(&mut s).unwrap();
        let mut found = Vec::new();
        assert_eq!(leaves(selection(&s), &mut found), 10);
        assert_eq!(found, terms);
        // Each operator's own chain balances; precedence is kept.
        let mut mixed = statement("SELECT 1 WHERE a AND b AND c AND d OR e");
        check_depth(&mut mixed).unwrap();
        let Expr::BinaryOp { left, op: BinaryOperator::Or, .. } = selection(&mixed) else { panic!("OR on top") };
        let mut found = Vec::new();
        assert_eq!(leaves(left, &mut found), 2);
        assert_eq!(found, ["a", "b", "c", "d"]);
    }

    #[test]
    fn long_unions_and_many_tables_are_refused() {
        let ok = vec!["SELECT 1"; 100].join(" UNION ALL ");
        check_depth(&mut statement(&ok)).unwrap();
        for sql in [
            vec!["SELECT 1"; 2_000].join(" UNION "),
            format!("SELECT 1 FROM {}", vec!["a.t"; 300].join(", ")),
            format!("SELECT 1 FROM a.t {}", vec!["JOIN a.t USING (x)"; 300].join(" ")),
            format!(
                "WITH {} SELECT * FROM c299",
                (0..300).map(|i| format!("c{i} AS (SELECT {i})")).collect::<Vec<_>>().join(", ")
            ),
        ] {
            let e = check_depth(&mut statement(&sql)).unwrap_err();
            assert!(e.message.contains("more than 256 parts"), "{e}");
        }
    }

    #[test]
    fn deep_chains_of_other_operators_are_refused() {
        let ok = format!("SELECT {}", vec!["1"; MAX_EXPRESSION_DEPTH / 2].join(" + "));
        check_depth(&mut statement(&ok)).unwrap();
        for op in [" + ", " || ", " * "] {
            let deep = format!("SELECT {}", vec!["1"; MAX_EXPRESSION_DEPTH + 1].join(op));
            let e = check_depth(&mut statement(&deep)).unwrap_err();
            assert!(e.message.contains("nest more than 256 levels"), "{e}");
        }
    }
}
