//! The templates of a kind (`service`): embedded in the binary, overridden file by file by the
//! project's own `templates/`, rendered with minijinja.
//!
//! Conventions (templates/README.md): a template's path mirrors the repository, with
//! `__name__`, `__crate__` and `__stamp__` in it replaced; a file that renders to nothing but
//! whitespace is not written (optional files wrap themselves in `{% if %}`); `_stack.yaml` and
//! `_volumes.yaml` are blocks for the stack file and `_readme_row.md` a row for the README's
//! table of services, not files.

use crate::error::{Error, Result};
use minijinja::{Environment, UndefinedBehavior};
use std::collections::BTreeMap;
use std::path::Path;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/templates.rs"));
}

/// A template's rendered output.
#[derive(Debug, Clone, PartialEq)]
pub enum Rendered {
    /// A new file at this path (relative to the project root).
    File { path: String, text: String },
    /// A block to append to the stack file's top-level map `key` (`services`, `volumes`).
    StackBlock { key: &'static str, text: String },
    /// A row for the README's table of services (`_readme_row.md`).
    ReadmeRow(String),
}

/// The templates of `kind`: the embedded ones, then the project's `templates/KIND/` files
/// replacing or adding to them. Keys are paths relative to `templates/KIND/`.
pub fn sources(kind: &str, project: &Path) -> Result<BTreeMap<String, String>> {
    let prefix = format!("{kind}/");
    let mut all: BTreeMap<String, String> = embedded::EMBEDDED
        .iter()
        .filter_map(|(path, text)| Some((path.strip_prefix(&prefix)?.to_owned(), (*text).into())))
        .collect();
    let own = project.join("templates").join(kind);
    for file in walk(&own) {
        let rel = file
            .strip_prefix(&own)
            .expect("walked under it")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&file)
            .map_err(Error::io(format!("reading template {}", file.display())))?;
        all.insert(rel, text);
    }
    Ok(all)
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Renders every template with `context`; errors name the template and its line.
pub fn render(
    sources: &BTreeMap<String, String>,
    context: &minijinja::Value,
    placeholders: &[(&str, &str)],
) -> Result<Vec<Rendered>> {
    let mut env = Environment::new();
    // The same settings as Jinja2's `keep_trailing_newline`, `trim_blocks`, `lstrip_blocks` and
    // `StrictUndefined`: a block tag takes no line of its own, and a misspelt variable fails.
    env.set_keep_trailing_newline(true);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let broken = |name: &str, e: minijinja::Error| {
        Error::Usage(format!(
            "template {name}{}: {e}",
            e.line().map(|l| format!(":{l}")).unwrap_or_default()
        ))
    };
    let mut out = Vec::new();
    for (name, source) in sources {
        let text = env
            .render_str(source, context)
            .map_err(|e| broken(name, e))?;
        if text.trim().is_empty() {
            continue;
        }
        out.push(match name.as_str() {
            "_stack.yaml" => Rendered::StackBlock {
                key: "services",
                text,
            },
            "_volumes.yaml" => Rendered::StackBlock {
                key: "volumes",
                text,
            },
            "_readme_row.md" => Rendered::ReadmeRow(text),
            _ => Rendered::File {
                path: placeholders
                    .iter()
                    .fold(name.clone(), |p, (from, to)| p.replace(from, to)),
                text,
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str, source: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(name.to_owned(), source.to_owned())])
    }

    #[test]
    fn paths_take_the_names_and_empty_files_are_left_out() {
        let ctx = minijinja::context! { name => "billing", consumes => Vec::<String>::new() };
        let mut sources = one("services/__name__/src/lib.rs", "//! {{ name }}\n");
        sources.insert(
            "services/__name__/src/consumer.rs".into(),
            "{% if consumes %}\nmod x;\n{% endif %}\n".into(),
        );
        let out = render(&sources, &ctx, &[("__name__", "billing")]).unwrap();
        assert_eq!(
            out,
            vec![Rendered::File {
                path: "services/billing/src/lib.rs".into(),
                text: "//! billing\n".into()
            }]
        );
    }

    #[test]
    fn a_misspelt_variable_is_an_error_naming_the_template() {
        let ctx = minijinja::context! { name => "billing" };
        let e = render(&one("a.rs", "line\n{{ nmae }}\n"), &ctx, &[]).unwrap_err();
        assert!(e.to_string().contains("template a.rs:2"), "{e}");
    }

    #[test]
    fn the_embedded_templates_include_the_service_crate() {
        let all = sources("service", Path::new("/nonexistent")).unwrap();
        assert!(
            all.contains_key("services/__name__/Cargo.toml"),
            "{:?}",
            all.keys()
        );
        assert!(all.contains_key("_stack.yaml"));
    }
}
