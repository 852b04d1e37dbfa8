# Sourced: scratch_copy DIR copies this repository's tracked and unignored files (uncommitted
# changes included, target/ and .env not) into DIR, for scripts that change a tree of their own.
scratch_copy() {
  git -C "$(dirname "${BASH_SOURCE[0]}")/.." ls-files -co --exclude-standard -z |
    (cd "$(dirname "${BASH_SOURCE[0]}")/.." && tar --null -T - -cf -) | tar -C "$1" -xf -
}
