# Runs in the chroot after postgresql-15 is installed.
sample=/usr/share/postgresql/15/postgresql.conf.sample
# Every cluster initdb makes from now on listens on all addresses (the container's port is
# what the stack publishes or connects to).
sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "$sample"
grep -qF "listen_addresses = '*'" "$sample"
mkdir -p /docker-entrypoint-initdb.d /var/run/postgresql /var/lib/postgresql/data
chown -R postgres:postgres /var/run/postgresql /var/lib/postgresql
# Any user may create the socket (the official image does the same for arbitrary --user).
chmod 3777 /var/run/postgresql
chmod 700 /var/lib/postgresql/data
# The entrypoint and healthchecks must find the real binaries, not Debian's pg_wrapper.
test -x /usr/lib/postgresql/15/bin/postgres
test -x /usr/lib/postgresql/15/bin/pg_isready
