# Runs in the chroot before postgresql-15 is installed.
# Same user and group ids as the official postgres image (999), so data directories
# are interchangeable with it.
groupadd --system --gid 999 postgres
useradd --system --gid postgres --uid 999 --home-dir /var/lib/postgresql --shell /bin/bash \
    --comment "PostgreSQL administrator" postgres
mkdir -p /var/lib/postgresql
chown postgres:postgres /var/lib/postgresql
# Do not let the package create a cluster: the entrypoint runs initdb into $PGDATA.
mkdir -p /etc/postgresql-common
echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf
