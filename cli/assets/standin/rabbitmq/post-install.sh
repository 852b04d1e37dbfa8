# Runs in the chroot after rabbitmq-server is installed.
mkdir -p /var/lib/rabbitmq /etc/rabbitmq /var/log/rabbitmq
# The package made an Erlang cookie at install time; every container from this image would
# share it. Drop it: the server makes its own at first start (in /var/lib/rabbitmq).
rm -f /var/lib/rabbitmq/.erlang.cookie
rm -rf /var/lib/rabbitmq/mnesia/*
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /etc/rabbitmq /var/log/rabbitmq
test -x /usr/lib/rabbitmq/bin/rabbitmq-server
