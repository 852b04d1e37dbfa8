//! What an export reads: the stack file as written (for positions and `${…}` templates), its
//! secret variables, and the stack resolved with those masked, so that no secret value can
//! reach a manifest.

use super::secrets::{self, SecretVar};
use crate::diag::{Diagnostic, FileErrors};
use crate::error::Result;
use crate::stack::{model, read_dotenv, Source, Stack, Vars};
use std::collections::BTreeMap;

pub struct Input {
    /// Resolved with every secret variable standing for its marker.
    pub stack: Stack,
    pub raw: model::StackFile,
    pub secret: BTreeMap<String, SecretVar>,
    /// The real variables (environment, then `.env`), for `--with-secrets`.
    pub vars: Vars,
}

pub fn read(source: &Source) -> Result<Input> {
    let file = &source.file;
    let text = std::fs::read_to_string(file).map_err(|e| {
        FileErrors::one(
            file,
            Diagnostic::new(
                Default::default(),
                format!("cannot read the stack file: {e}"),
            ),
        )
    })?;
    let raw: model::StackFile = crate::diag::parse_yaml(&text, file)?;
    let secret = secrets::variables(&raw);
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let masked = secrets::masked(
        &Vars {
            env: env.clone(),
            dotenv: Default::default(),
        },
        &secret,
    );
    let stack = source.load_with(masked)?;
    let vars = Vars {
        env,
        dotenv: read_dotenv(&stack.dir.join(".env"))?,
    };
    Ok(Input {
        stack,
        raw,
        secret,
        vars,
    })
}
