# Runs in the chroot before rabbitmq-server is installed.
# Same user and group ids as the official rabbitmq image (999), so data directories are
# interchangeable with it.
groupadd --system --gid 999 rabbitmq
useradd --system --gid rabbitmq --uid 999 --home-dir /var/lib/rabbitmq --no-create-home \
    --shell /usr/sbin/nologin --comment "RabbitMQ messaging server" rabbitmq
