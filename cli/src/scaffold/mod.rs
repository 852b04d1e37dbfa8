//! `msctl new service`: a new service rendered from templates into the project, with its block
//! in the stack file, its contract, journey, load profile and API page.
//!
//! - [`names`] checks the name, route, port and events against the stack and the workspace.
//! - [`templates`] finds the templates (embedded, then the project's) and renders them.
//! - [`stack_file`] appends the service's block to the stack file, and its row to the README's
//!   table of services, as text.
//! - [`write`] writes it all or nothing.
//!
//! [`plan`] does everything but write, so `--dry-run` and the real run show the same list.

pub mod names;
pub mod stack_file;
pub mod templates;
pub mod write;

use crate::error::{Error, Result};
use crate::stack::Stack;
use serde::Serialize;
use std::path::PathBuf;

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct Options {
    pub name: String,
    pub db: bool,
    pub consumes: Vec<String>,
    pub publishes: Vec<String>,
    /// Default: `/NAME`.
    pub route: Option<String>,
    pub access: String,
    /// Default: the first free from 8006.
    pub port: Option<u16>,
}

/// Everything a run would write.
#[derive(Debug, Serialize)]
pub struct Plan {
    pub service: String,
    pub route: String,
    pub access: String,
    pub port: u16,
    pub db: bool,
    pub consumes: Vec<String>,
    pub publishes: Vec<String>,
    /// New files, relative to the project root, with their text.
    #[serde(serialize_with = "paths_only")]
    pub files: Vec<(String, String)>,
    pub stack_file: PathBuf,
    /// Services added to the stack file (the service, its database).
    pub stack_services: Vec<String>,
    /// The README, when it has a table of services the new one joins.
    pub readme: Option<PathBuf>,
    /// Edited files (the stack file, the README) with their new text.
    #[serde(skip)]
    pub edits: Vec<(PathBuf, String)>,
    #[serde(skip)]
    pub root: PathBuf,
}

fn paths_only<S: serde::Serializer>(
    files: &[(String, String)],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(files.iter().map(|(p, _)| p))
}

/// Checks the options against `stack` and renders every file; writes nothing. `stamp` names
/// the migration (`YYYYMMDDHHMMSS`).
pub fn plan(options: &Options, stack: &Stack, stamp: &str) -> Result<Plan> {
    let taken = names::Taken::of(stack);
    let name = &options.name;
    let route = options.route.clone().unwrap_or_else(|| format!("/{name}"));
    let port = options.port.unwrap_or_else(|| taken.free_port());
    let problems = taken.problems(options, &route, port, stack);
    if !problems.is_empty() {
        return Err(Error::Usage(problems.join("\n")));
    }
    let krate = name.replace('-', "_");
    let amqp = !options.consumes.is_empty() || !options.publishes.is_empty();
    let context = minijinja::context! {
        name => name,
        crate => krate,
        title => name.split('-').map(capitalised).collect::<Vec<_>>().join(" "),
        port => port,
        route => route,
        access => options.access,
        db => options.db,
        db_service => format!("{name}-db"),
        db_user => krate,
        db_name => krate,
        db_password_var => format!("{}_DB_PASSWORD", krate.to_uppercase()),
        consumes => options.consumes,
        publishes => options.publishes,
        amqp => amqp,
        year_stamp => stamp,
    };
    let sources = templates::sources("service", &stack.dir)?;
    let rendered = templates::render(
        &sources,
        &context,
        &[
            ("__name__", name),
            ("__crate__", &krate),
            ("__stamp__", stamp),
        ],
    )?;
    let mut stack_text = std::fs::read_to_string(&stack.file)
        .map_err(Error::io(format!("reading {}", stack.file.display())))?;
    let readme_file = stack.dir.join("README.md");
    let mut readme = std::fs::read_to_string(&readme_file).ok();
    let mut files = Vec::new();
    for r in rendered {
        match r {
            templates::Rendered::File { path, text } => files.push((path, text)),
            templates::Rendered::StackBlock { key, text } => {
                stack_text = stack_file::insert_under(&stack_text, key, &text)
            }
            templates::Rendered::ReadmeRow(row) => {
                readme = readme.and_then(|text| stack_file::add_table_row(&text, &row))
            }
        }
    }
    // The stack file as it will be must load: a template that breaks it is caught here.
    let after = crate::stack::parse(
        &stack_text,
        &stack.file,
        &stack.dir,
        &crate::stack::Vars {
            env: std::env::vars().collect(),
            dotenv: Default::default(),
        },
    )
    .map_err(|e| {
        Error::Usage(format!(
            "the templates would break {}: {}",
            stack.file.display(),
            e.diagnostics
                .iter()
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    let stack_services = after
        .services
        .iter()
        .map(|s| s.name.clone())
        .filter(|s| !taken.services.contains(s))
        .collect();
    let mut edits = vec![(stack.file.clone(), stack_text)];
    if let Some(text) = &readme {
        edits.push((readme_file.clone(), text.clone()));
    }
    let plan = Plan {
        service: name.clone(),
        route,
        access: options.access.clone(),
        port,
        db: options.db,
        consumes: options.consumes.clone(),
        publishes: options.publishes.clone(),
        files,
        stack_file: stack.file.clone(),
        stack_services,
        readme: readme.is_some().then_some(readme_file),
        edits,
        root: stack.dir.clone(),
    };
    let existing = write::existing(&plan.changes());
    if !existing.is_empty() {
        return Err(Error::Usage(format!(
            "these files exist, and msctl new service never overwrites: {}",
            existing.join(", ")
        )));
    }
    Ok(plan)
}

impl Plan {
    pub fn changes(&self) -> write::Changes<'_> {
        write::Changes {
            root: &self.root,
            files: &self.files,
            edits: &self.edits,
        }
    }
}

fn capitalised(word: &str) -> String {
    let mut c = word.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
