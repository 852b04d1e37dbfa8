//! `${VAR}` interpolation, with the shell's default and error forms, as Compose users expect.

use std::collections::HashMap;

/// Where variables come from: the process environment first, then `.env` beside the stack file.
#[derive(Debug, Default, Clone)]
pub struct Vars {
    pub env: HashMap<String, String>,
    pub dotenv: HashMap<String, String>,
}

impl Vars {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.env
            .get(name)
            .or_else(|| self.dotenv.get(name))
            .map(String::as_str)
    }
}

/// Substitutes `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?message}`,
/// `${NAME?message}` and `$NAME`; `$$` is a literal `$`.
pub fn interpolate(input: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
        } else if let Some(body) = rest.strip_prefix('{') {
            let end = closing_brace(body).ok_or_else(|| format!("unclosed `${{` in {input:?}"))?;
            out.push_str(&expand(&body[..end], vars)?);
            rest = &body[end + 1..];
        } else if rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out.push_str(vars.get(&rest[..len]).unwrap_or(""));
            rest = &rest[len..];
        } else {
            // `$5`, `$ `, a trailing `$`: not a variable, so the text is kept as written
            // (a password like `pa$5word` must survive).
            out.push('$');
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Index of the `}` closing a `${`, counting nested `${...}` in defaults.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn expand(expr: &str, vars: &Vars) -> Result<String, String> {
    let name_len = expr
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(expr.len());
    let (name, op) = expr.split_at(name_len);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("`${{{expr}}}` is not a valid variable reference"));
    }
    let value = vars.get(name);
    let set_nonempty = value.is_some_and(|v| !v.is_empty());
    let with_nested = |s: &str| interpolate(s, vars);
    match op {
        "" => Ok(value.unwrap_or("").to_owned()),
        _ if op.starts_with(":-") => match set_nonempty {
            true => Ok(value.unwrap_or("").to_owned()),
            false => with_nested(&op[2..]),
        },
        _ if op.starts_with('-') => match value {
            Some(v) => Ok(v.to_owned()),
            None => with_nested(&op[1..]),
        },
        _ if op.starts_with(":?") => match set_nonempty {
            true => Ok(value.unwrap_or("").to_owned()),
            false => Err(required(name, &op[2..])),
        },
        _ if op.starts_with('?') => match value {
            Some(v) => Ok(v.to_owned()),
            None => Err(required(name, &op[1..])),
        },
        _ => Err(format!(
            "`${{{expr}}}`: unsupported operator `{op}` (use :-, -, :? or ?)"
        )),
    }
}

fn required(name: &str, message: &str) -> String {
    if message.is_empty() {
        format!("variable {name} is required but not set")
    } else {
        format!("variable {name} is required: {message}")
    }
}

/// Parses a `.env` file: `KEY=value` lines, `#` comments, optional `export`, optional quotes.
pub fn parse_dotenv(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line.split_once('=')?;
            let value = value.trim();
            let value = match (value.chars().next(), value.chars().last()) {
                (Some(q @ ('"' | '\'')), Some(e)) if e == q && value.len() >= 2 => {
                    &value[1..value.len() - 1]
                }
                _ => value.split(" #").next().unwrap_or(value).trim_end(),
            };
            Some((key.trim().to_owned(), value.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        Vars {
            env: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            dotenv: HashMap::new(),
        }
    }

    #[test]
    fn forms() {
        let v = vars(&[("A", "1"), ("EMPTY", "")]);
        assert_eq!(interpolate("x${A}y", &v).unwrap(), "x1y");
        assert_eq!(interpolate("$A-$$A", &v).unwrap(), "1-$A");
        assert_eq!(interpolate("${B:-dflt}", &v).unwrap(), "dflt");
        assert_eq!(interpolate("${EMPTY:-dflt}", &v).unwrap(), "dflt");
        assert_eq!(interpolate("${EMPTY-dflt}", &v).unwrap(), "");
        assert_eq!(interpolate("${B:-${A}}", &v).unwrap(), "1");
        assert_eq!(interpolate("cost $5", &v).unwrap(), "cost $5");
        assert_eq!(interpolate("pa$5word$", &v).unwrap(), "pa$5word$");
        assert_eq!(interpolate("${B:-${C:-${A}}}x", &v).unwrap(), "1x");
        assert!(interpolate("${B:?set B}", &v)
            .unwrap_err()
            .contains("set B"));
        assert!(interpolate("${A", &v).is_err());
        assert!(interpolate("${1A}", &v).is_err());
    }

    #[test]
    fn env_beats_dotenv() {
        let mut v = vars(&[("A", "env")]);
        v.dotenv.insert("A".into(), "file".into());
        v.dotenv.insert("B".into(), "file".into());
        assert_eq!(interpolate("${A}/${B}", &v).unwrap(), "env/file");
    }

    #[test]
    fn dotenv_syntax() {
        let parsed = parse_dotenv("# c\nexport A=1\nB=\"two words\"\nC='x#y'\nD=plain # note\n\n");
        assert_eq!(parsed["A"], "1");
        assert_eq!(parsed["B"], "two words");
        assert_eq!(parsed["C"], "x#y");
        assert_eq!(parsed["D"], "plain");
    }
}
