//! Matchers: what a value at a JSONPath, a header or a status must be, and the sentence a user
//! reads when it is not.

use super::model::Node;
use super::template::{Scope, Templates};
use crate::diag::{did_you_mean, pos, Pos, Spanned};
use serde_json::Value;

pub const OPERATORS: &[&str] = &[
    "equals",
    "not_equals",
    "matches",
    "exists",
    "one_of",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "length",
];

/// One operator with its (rendered) operand.
#[derive(Debug, Clone)]
pub enum Op {
    Equals(Value),
    NotEquals(Value),
    Matches(regex::Regex),
    Exists(bool),
    OneOf(Vec<Value>),
    Compare(&'static str, f64),
    Contains(Value),
    Length(u64),
}

/// The operators of a matcher node, unrendered (for checking) — `(name, operand)`.
pub fn operators(node: &Spanned<Node>) -> Vec<(String, Pos, Spanned<Node>)> {
    match &node.value {
        // Every mapping is operators, so that a misspelt operator is an error rather than an
        // equality with an object; an object is compared with `equals: {...}`.
        Node::Map(entries) if !entries.is_empty() => entries
            .iter()
            .map(|(k, v)| (k.value.clone(), pos(k), v.clone()))
            .collect(),
        // A plain value is `equals`.
        _ => vec![("equals".into(), pos(node), node.clone())],
    }
}

/// Renders and builds the operators of a matcher; the error points at what is wrong.
pub fn compile(
    node: &Spanned<Node>,
    templates: &Templates,
    scope: &Scope,
) -> Result<Vec<Op>, (Pos, String)> {
    let mut ops = Vec::new();
    for (name, at, operand) in operators(node) {
        let value = templates.node(&operand, scope)?;
        let bad = |what: &str| (pos(&operand), format!("`{name}` takes {what}"));
        ops.push(match name.as_str() {
            "equals" => Op::Equals(value),
            "not_equals" => Op::NotEquals(value),
            "matches" => {
                let text = value.as_str().ok_or_else(|| bad("a regular expression"))?;
                Op::Matches(regex::Regex::new(text).map_err(|e| {
                    // regex's message draws a caret under the pattern over several lines.
                    let e = e.to_string();
                    let why = e.lines().last().unwrap_or_default();
                    let why = why.strip_prefix("error: ").unwrap_or(why);
                    (
                        pos(&operand),
                        format!("invalid regular expression `{text}`: {why}"),
                    )
                })?)
            }
            "exists" => Op::Exists(value.as_bool().ok_or_else(|| bad("true or false"))?),
            "one_of" => match value {
                Value::Array(items) => Op::OneOf(items),
                _ => return Err(bad("a list")),
            },
            "gt" | "gte" | "lt" | "lte" => {
                let n = number(&value).ok_or_else(|| bad("a number"))?;
                let op = match name.as_str() {
                    "gt" => ">",
                    "gte" => ">=",
                    "lt" => "<",
                    _ => "<=",
                };
                Op::Compare(op, n)
            }
            "contains" => Op::Contains(value),
            "length" => Op::Length(value.as_u64().ok_or_else(|| bad("a whole number"))?),
            other => {
                let help = did_you_mean(other, OPERATORS.iter().copied(), || {
                    format!("operators: {}", OPERATORS.join(", "))
                });
                return Err((at, format!("unknown operator `{other}`; {help}")));
            }
        });
    }
    Ok(ops)
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        // Prices are decimal strings in the shop's API ("12.34").
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// A value as a user reads it in a report: JSON, cut short.
pub fn show(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(120).collect::<String>())
    } else {
        text
    }
}

/// Checks `found` (every node the path or header selected) against `ops`. `None` when it
/// holds, else what was expected and what came back.
pub fn check(ops: &[Op], found: &[Value]) -> Option<String> {
    for op in ops {
        if let Some(problem) = check_one(op, found) {
            return Some(problem);
        }
    }
    None
}

fn check_one(op: &Op, found: &[Value]) -> Option<String> {
    if let Op::Exists(want) = op {
        return match (want, found.is_empty()) {
            (true, true) => Some("expected it to exist, but there is nothing there".into()),
            (false, false) => Some(format!(
                "expected nothing there, got {}",
                found.iter().map(show).collect::<Vec<_>>().join(", ")
            )),
            _ => None,
        };
    }
    if found.is_empty() {
        return Some(format!(
            "expected {}, but there is nothing there",
            expected(op)
        ));
    }
    for v in found {
        if !holds(op, v) {
            return Some(format!("expected {}, got {}", expected(op), show(v)));
        }
    }
    None
}

fn holds(op: &Op, v: &Value) -> bool {
    match op {
        Op::Equals(want) => same(v, want),
        Op::NotEquals(want) => !same(v, want),
        Op::Matches(re) => match v {
            Value::String(s) => re.is_match(s),
            Value::Number(_) | Value::Bool(_) => re.is_match(&v.to_string()),
            _ => false,
        },
        Op::Exists(_) => true,
        Op::OneOf(options) => options.iter().any(|o| same(v, o)),
        Op::Compare(op, n) => number(v).is_some_and(|x| match *op {
            ">" => x > *n,
            ">=" => x >= *n,
            "<" => x < *n,
            _ => x <= *n,
        }),
        Op::Contains(want) => match (v, want) {
            (Value::String(s), Value::String(w)) => s.contains(w.as_str()),
            (Value::Array(items), w) => items.iter().any(|i| same(i, w)),
            _ => false,
        },
        Op::Length(n) => match v {
            Value::String(s) => s.chars().count() as u64 == *n,
            Value::Array(a) => a.len() as u64 == *n,
            Value::Object(o) => o.len() as u64 == *n,
            _ => false,
        },
    }
}

fn expected(op: &Op) -> String {
    match op {
        Op::Equals(v) => show(v),
        Op::NotEquals(v) => format!("anything but {}", show(v)),
        Op::Matches(re) => format!("a match for /{}/", re.as_str()),
        Op::Exists(_) => "it to exist".into(),
        Op::OneOf(options) => format!(
            "one of {}",
            options.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        Op::Compare(op, n) => format!("a number {op} {n}"),
        Op::Contains(v) => format!("something containing {}", show(v)),
        Op::Length(n) => format!("length {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eq(v: Value) -> Vec<Op> {
        vec![Op::Equals(v)]
    }

    #[test]
    fn numbers_compare_by_value_and_decimal_strings_compare_as_numbers() {
        assert_eq!(check(&eq(json!(1)), &[json!(1.0)]), None);
        assert_eq!(check(&[Op::Compare(">", 10.0)], &[json!("12.34")]), None);
        assert_eq!(
            check(&[Op::Compare(">", 20.0)], &[json!("12.34")]).unwrap(),
            "expected a number > 20, got \"12.34\""
        );
    }

    #[test]
    fn every_selected_node_must_hold_and_at_least_one_must_exist() {
        let ops = [Op::OneOf(vec![json!("a"), json!("b")])];
        assert_eq!(check(&ops, &[json!("a"), json!("b")]), None);
        assert_eq!(
            check(&ops, &[json!("a"), json!("c")]).unwrap(),
            "expected one of \"a\", \"b\", got \"c\""
        );
        assert_eq!(
            check(&ops, &[]).unwrap(),
            "expected one of \"a\", \"b\", but there is nothing there"
        );
    }

    #[test]
    fn exists_false_holds_only_when_nothing_is_selected() {
        assert_eq!(check(&[Op::Exists(false)], &[]), None);
        assert!(check(&[Op::Exists(false)], &[json!(null)]).is_some());
    }
}
