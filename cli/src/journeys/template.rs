//! `{{ var }}` templating of journey values (minijinja, undefined names are errors).
//!
//! A string that is exactly one `{{ expression }}` keeps the expression's type, so a captured
//! number stays a number in a JSON body; any other string renders to a string.

use super::model::Node;
use crate::diag::{pos, Pos, Spanned};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Names a template may use that are not variables (minijinja's global functions).
const GLOBAL_FUNCTIONS: &[&str] = &["range", "dict", "namespace", "debug"];

/// The variables in scope while a step runs: built-ins, variables, captures.
pub type Scope = BTreeMap<String, Value>;

pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        Templates { env }
    }
}

fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// The expression of a string that is one `{{ ... }}` and nothing else.
fn whole_expression(s: &str) -> Option<&str> {
    // The first `}}` must close the block that opens the string (`{{ a }}-{{ b }}` is text).
    if s.find("}}")? != s.len() - 2 {
        return None;
    }
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner.trim())
}

/// minijinja's messages end with where in the template; the position we print is the file's.
fn message(e: &minijinja::Error) -> String {
    let mut text = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    if let Some(name) = e.name().filter(|n| !n.starts_with('<')) {
        text.push_str(&format!(" ({name})"));
    }
    text
}

impl Templates {
    /// The names `text` uses, or why it does not compile.
    pub fn names(&self, text: &str) -> Result<Vec<String>, String> {
        if !is_template(text) {
            return Ok(Vec::new());
        }
        let mut names: Vec<String> = match whole_expression(text) {
            Some(expr) => self
                .env
                .compile_expression(expr)
                .map_err(|e| message(&e))?
                .undeclared_variables(false)
                .into_iter()
                .collect(),
            None => self
                .env
                .template_from_str(text)
                .map_err(|e| message(&e))?
                .undeclared_variables(false)
                .into_iter()
                .collect(),
        };
        names.retain(|n| !GLOBAL_FUNCTIONS.contains(&n.as_str()));
        names.sort();
        Ok(names)
    }

    /// Renders one string; whole-expression strings keep their type.
    pub fn value(&self, text: &str, scope: &Scope) -> Result<Value, String> {
        if !is_template(text) {
            return Ok(Value::String(text.to_owned()));
        }
        if let Some(expr) = whole_expression(text) {
            let value = self
                .env
                .compile_expression(expr)
                .and_then(|e| e.eval(scope))
                .map_err(|e| message(&e))?;
            // Strict mode lets an expression *evaluate* to undefined (`env.MISSING`); sending
            // that as null would hide the mistake.
            if value.is_undefined() {
                return Err(format!("undefined value: `{expr}` has no value here"));
            }
            return serde_json::to_value(&value).map_err(|e| e.to_string());
        }
        self.string(text, scope).map(Value::String)
    }

    /// Renders one string to a string (a header, a path).
    pub fn string(&self, text: &str, scope: &Scope) -> Result<String, String> {
        if !is_template(text) {
            return Ok(text.to_owned());
        }
        self.env.render_str(text, scope).map_err(|e| message(&e))
    }

    /// Renders a string that must be a string: a number or object from a whole expression
    /// becomes its JSON text.
    pub fn text(&self, text: &Spanned<String>, scope: &Scope) -> Result<String, (Pos, String)> {
        self.string(&text.value, scope).map_err(|e| (pos(text), e))
    }

    /// Renders every string inside `node`; the error carries the failing string's position.
    pub fn node(&self, node: &Spanned<Node>, scope: &Scope) -> Result<Value, (Pos, String)> {
        Ok(match &node.value {
            Node::Str(s) => self.value(s, scope).map_err(|e| (pos(node), e))?,
            Node::Seq(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.node(i, scope))
                    .collect::<Result<_, _>>()?,
            ),
            Node::Map(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    map.insert(k.value.clone(), self.node(v, scope)?);
                }
                Value::Object(map)
            }
            other => other.to_json(),
        })
    }

    /// Every template string inside `node` with its position, for checking.
    pub fn strings(node: &Spanned<Node>, out: &mut Vec<(Pos, String)>) {
        match &node.value {
            Node::Str(s) if is_template(s) => out.push((pos(node), s.clone())),
            Node::Seq(items) => items.iter().for_each(|i| Self::strings(i, out)),
            Node::Map(entries) => entries.iter().for_each(|(_, v)| Self::strings(v, out)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        let mut s = Scope::new();
        s.insert("n".into(), Value::from(3));
        s.insert("name".into(), Value::from("ada"));
        s
    }

    #[test]
    fn a_whole_expression_keeps_its_type() {
        let t = Templates::default();
        assert_eq!(t.value("{{ n }}", &scope()).unwrap(), Value::from(3));
        assert_eq!(t.value("{{ n + 1 }}", &scope()).unwrap(), Value::from(4));
        assert_eq!(t.value("n={{ n }}", &scope()).unwrap(), Value::from("n=3"));
        assert_eq!(t.value("plain", &scope()).unwrap(), Value::from("plain"));
        assert_eq!(t.value(" {{ n }} ", &scope()).unwrap(), Value::from(" 3 "));
        assert_eq!(t.value("{{ n }}}", &scope()).unwrap(), Value::from("3}"));
    }

    /// `{{ env.MISSING }}` evaluated to undefined and was sent as null.
    #[test]
    fn a_whole_expression_that_is_undefined_is_an_error_not_null() {
        let t = Templates::default();
        let mut s = scope();
        s.insert("env".into(), serde_json::json!({}));
        let err = t.value("{{ env.MISSING }}", &s).unwrap_err();
        assert!(err.contains("env.MISSING"), "{err}");
        assert_eq!(
            t.value("{{ env.MISSING | default('x') }}", &s).unwrap(),
            Value::from("x")
        );
    }

    #[test]
    fn undefined_names_are_errors_not_empty_strings() {
        let t = Templates::default();
        let err = t.value("hello {{ nmae }}", &scope()).unwrap_err();
        assert!(err.contains("undefined"), "{err}");
    }

    #[test]
    fn names_lists_what_a_template_uses() {
        let t = Templates::default();
        assert_eq!(t.names("{{ a }}-{{ b | upper }}").unwrap(), vec!["a", "b"]);
        assert_eq!(t.names("{{ env.HOME }}").unwrap(), vec!["env"]);
        assert!(t.names("{{ a ").is_err());
    }
}
