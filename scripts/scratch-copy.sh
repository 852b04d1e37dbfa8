# Sourced: scratch_copy DIR copies this repository's tracked and unignored files (uncommitted
# changes included, target/ and .env not) into DIR, for scripts and benches that change a tree of
# their own and build it into this repository's target directory.
#
# The copy shares this tree's builds, which saves minutes per use: cargo gives a package at
# another path the same unit hashes (it hashes the path relative to the workspace root), and a
# source file no newer than its build is fresh. One thing breaks that: a build script without
# rerun-if directives (crates/workspace-hack's) is fingerprinted with the newest modification
# time of its package's files, found through git in a repository and by walking the directory
# elsewhere, to the nanosecond. A default tar rounds times to the second, so a plain copy made
# that fingerprint differ, and every build then alternated between the copy's and this tree's,
# recompiling kit and every service each time (1.5 min here). Hence pax format (nanosecond
# times) and a git repository with every file added.
# The price: a crate that bakes its own path in (`env!("CARGO_MANIFEST_DIR")`) and is not
# rebuilt in the copy still points at this tree. testkit finds the workspace at run time for
# that reason (testkit::workspace_root).
scratch_copy() {
  local root
  root=$(git -C "$(dirname "${BASH_SOURCE[0]}")/.." rev-parse --show-toplevel)
  git -C "$root" ls-files -co --exclude-standard -z |
    (cd "$root" && tar --null -T - --format=posix -cf -) | tar -C "$1" -xf -
  git -C "$1" init -q
  git -C "$1" add -A
}
