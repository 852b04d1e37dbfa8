#!/usr/bin/env bash
# Entry point of msctl's RabbitMQ stand-in image (Debian bookworm's rabbitmq-server 3.10).
#
# Honours the official image's variables for the default account:
#   RABBITMQ_DEFAULT_USER   (default: guest)
#   RABBITMQ_DEFAULT_PASS   (default: guest)
#   RABBITMQ_DEFAULT_VHOST  (default: /)
# (and RABBITMQ_DEFAULT_USER_FILE / RABBITMQ_DEFAULT_PASS_FILE for secrets). Like in the official
# image they take effect when the node starts with an empty database, and the account may
# connect from any host. The node name is fixed (RABBITMQ_NODENAME=rabbit@localhost, set in the
# image), so the data in /var/lib/rabbitmq survives a new container hostname. The CLI tools
# (rabbitmqctl, rabbitmq-diagnostics...) are the upstream scripts, first on PATH, and work as
# root with HOME=/var/lib/rabbitmq (the cookie), as in the official image.
#
# It writes /etc/rabbitmq/advanced.config unless one was mounted there, then execs
# rabbitmq-server in the foreground as the rabbitmq user. SIGTERM stops the node cleanly.
set -Eeo pipefail

MARKER='%% Written by the msctl stand-in entrypoint; mount your own file to replace it.'

file_env() {
	local var="$1" fileVar="${1}_FILE" def="${2:-}"
	if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
		echo "error: both $var and $fileVar are set (but are exclusive)" >&2
		exit 1
	fi
	local val="$def"
	if [ "${!var:-}" ]; then
		val="${!var}"
	elif [ "${!fileVar:-}" ]; then
		val="$(< "${!fileVar}")"
	fi
	export "$var"="$val"
	unset "$fileVar"
}

# An Erlang binary literal holding $1 (UTF-8), with backslashes and quotes escaped.
erl_binary() {
	local s="$1"
	s="${s//\\/\\\\}"
	s="${s//\"/\\\"}"
	printf '<<"%s"/utf8>>' "$s"
}

write_advanced_config() {
	local file=/etc/rabbitmq/advanced.config
	if [ -e "$file" ] && ! head -n 1 "$file" | grep -qF "$MARKER"; then
		echo "Using the mounted $file; RABBITMQ_DEFAULT_* are not applied by the entrypoint."
		return
	fi
	local tmp="$file.tmp.$$"
	cat > "$tmp" <<-EOF
		$MARKER
		[
		  {rabbit, [
		    {default_user, $(erl_binary "$RABBITMQ_DEFAULT_USER")},
		    {default_pass, $(erl_binary "$RABBITMQ_DEFAULT_PASS")},
		    {default_vhost, $(erl_binary "$RABBITMQ_DEFAULT_VHOST")},
		    {default_permissions, [<<".*">>, <<".*">>, <<".*">>]},
		    {default_user_tags, [administrator]},
		    {loopback_users, []}
		  ]}
		].
	EOF
	mv "$tmp" "$file"
	chmod 0640 "$file"
	if [ "$(id -u)" = '0' ]; then
		chown rabbitmq:rabbitmq "$file"
	fi
}

# The Erlang cookie shared by the node and the CLI tools. Made here, before the node starts,
# so a CLI run as root (docker exec, healthchecks) can never create it first, as root.
ensure_cookie() {
	local cookie=/var/lib/rabbitmq/.erlang.cookie
	if [ ! -s "$cookie" ]; then
		# 20 hex digits from 10 random bytes (no `| head`: SIGPIPE would trip pipefail).
		( umask 077; od -An -N10 -tx1 /dev/urandom | tr -d ' \n' > "$cookie" )
	fi
	chmod 0400 "$cookie"
	if [ "$(id -u)" = '0' ]; then
		chown rabbitmq:rabbitmq "$cookie"
	fi
}

main() {
	if [ "${1:0:1}" = '-' ]; then
		set -- rabbitmq-server "$@"
	fi

	if [ "$1" = 'rabbitmq-server' ]; then
		file_env 'RABBITMQ_DEFAULT_USER' 'guest'
		file_env 'RABBITMQ_DEFAULT_PASS' 'guest'
		file_env 'RABBITMQ_DEFAULT_VHOST' '/'
		: "${RABBITMQ_NODENAME:=rabbit@localhost}"
		export RABBITMQ_NODENAME

		mkdir -p /var/lib/rabbitmq /var/log/rabbitmq /etc/rabbitmq
		if [ "$(id -u)" = '0' ]; then
			# A bind-mounted or fresh volume may belong to root: hand it to rabbitmq.
			find /var/lib/rabbitmq /var/log/rabbitmq /etc/rabbitmq \! -user rabbitmq \
				-exec chown rabbitmq:rabbitmq '{}' +
		fi
		write_advanced_config
		ensure_cookie

		shift
		cd /var/lib/rabbitmq
		export HOME=/var/lib/rabbitmq
		if [ "$(id -u)" = '0' ]; then
			exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
				/usr/lib/rabbitmq/bin/rabbitmq-server "$@"
		fi
		exec /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
	fi

	exec "$@"
}

main "$@"
