//! Adding a block to the stack file as text: the user's comments, order and formatting stay as
//! they are, which a parse-and-serialise round trip would lose.

/// `text` with `block` at the end of its top-level map `key:` (after the map's last line, before
/// the blank lines and comments that lead to the next top-level key); a missing map is added at
/// the end. `block` is already indented for the map.
pub fn insert_under(text: &str, key: &str, block: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let header = format!("{key}:");
    let Some(start) = lines.iter().position(|l| l.trim_end() == header) else {
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        return format!(
            "{out}\n{header}\n{}",
            with_newline(block.trim_end_matches('\n'))
        );
    };
    let top_level = |l: &str| !l.trim().is_empty() && !l.starts_with([' ', '\t', '#']);
    let end = (start + 1..lines.len())
        .find(|&i| top_level(lines[i]))
        .unwrap_or(lines.len());
    let mut cut = end;
    while cut > start + 1 && (lines[cut - 1].trim().is_empty() || lines[cut - 1].starts_with('#')) {
        cut -= 1;
    }
    let mut before: String = lines[..cut].concat();
    if !before.ends_with('\n') {
        before.push('\n');
    }
    // Services are separated by a blank line in the stack file; volumes are one per line.
    let gap = if key == "services" { "\n" } else { "" };
    format!(
        "{before}{gap}{}{}",
        with_newline(block.trim_end_matches('\n')),
        lines[cut..].concat()
    )
}

/// `text` with `row` after the last row of its table of services (the Markdown table whose
/// header starts `| service |`), or `None` when it has none: a README without one is left alone.
pub fn add_table_row(text: &str, row: &str) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let header = lines.iter().position(|l| l.starts_with("| service |"))?;
    let end = (header..lines.len())
        .find(|&i| !lines[i].starts_with('|'))
        .unwrap_or(lines.len());
    // Before a last row that lists no service of its own (`| `users-db`, … | — |` ones stay last).
    let at = if end > header + 2 && lines[end - 1].contains("| — |") {
        end - 1
    } else {
        end
    };
    Some(format!(
        "{}{}{}",
        lines[..at].concat(),
        with_newline(row.trim_end_matches('\n')),
        lines[at..].concat()
    ))
}

fn with_newline(s: &str) -> String {
    format!("{s}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str = "name: shop\n\nservices:\n  a:\n    image: x # why x\n\n  b:\n    image: y\n\n# the volumes\nvolumes:\n  a-db:\n";

    #[test]
    fn a_service_goes_after_the_last_one_and_comments_stay() {
        let out = insert_under(STACK, "services", "  c:\n    image: z\n");
        assert_eq!(
            out,
            "name: shop\n\nservices:\n  a:\n    image: x # why x\n\n  b:\n    image: y\n\n  c:\n    image: z\n\n# the volumes\nvolumes:\n  a-db:\n"
        );
    }

    #[test]
    fn a_volume_goes_at_the_end_of_the_file_s_last_map() {
        let out = insert_under(STACK, "volumes", "  c-db:\n");
        assert!(out.ends_with("volumes:\n  a-db:\n  c-db:\n"), "{out}");
    }

    #[test]
    fn a_readme_row_joins_the_services_table_before_its_databases_row() {
        let readme = "# x\n\n| service | port | what |\n|---|---|---|\n| `a` | 1 | a |\n| `a-db` | — | dbs |\n\nmore\n";
        assert_eq!(
            add_table_row(readme, "| `b` | 2 | b |\n").unwrap(),
            "# x\n\n| service | port | what |\n|---|---|---|\n| `a` | 1 | a |\n| `b` | 2 | b |\n| `a-db` | — | dbs |\n\nmore\n"
        );
        assert_eq!(add_table_row("# no table\n", "| `b` |"), None);
    }

    #[test]
    fn a_missing_map_is_added() {
        let out = insert_under("name: shop\nservices:\n  a: {}", "volumes", "  c-db:\n");
        assert_eq!(out, "name: shop\nservices:\n  a: {}\n\nvolumes:\n  c-db:\n");
    }
}
