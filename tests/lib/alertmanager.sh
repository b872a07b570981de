# shellcheck shell=bash
# Real Alertmanagers (Debian's prometheus-alertmanager) on 127.0.0.1 for tests,
# benchmarks and the demo, each with its own --storage.path, delivering to a
# saslguard-receiver webhook with a bearer token read from a file.
#
# Usage (source it, then):
#   am_create DIR NAME WEBHOOK_URL TOKEN_FILE   # config + data dir; picks ports
#   am_start DIR NAME [PEER_NAME...]            # single (no cluster) or peered with the named ones
#                                               # (AM_LOG_LEVEL=debug: "Received alert", "flushing",
#                                               # "Notify success" lines with their times)
#   am_url DIR NAME                             # http://127.0.0.1:PORT
#   am_add_alert DIR NAME LABEL=VALUE... [--annotation=K=V...] # via amtool
#   am_resolve_alert DIR NAME LABEL=VALUE...    # same alert with endsAt now (resolves it)
#   am_stop DIR NAME
# DIR/NAME/env holds AM_PORT, AM_CLUSTER_PORT and is sourced by each function.

# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

AM_BIN=${AM_BIN:-$(command -v prometheus-alertmanager || command -v alertmanager)}

am_create() {
  local dir=$1 name=$2 url=$3 token_file=$4
  local d=$dir/$name
  mkdir -p "$d/data"
  cat > "$d/env" <<ENV
AM_DIR=$d
AM_PORT=$(free_port)
AM_CLUSTER_PORT=$(free_port)
ENV
  # group_wait/group_interval are short so tests see deliveries in seconds;
  # repeat_interval is long so repeats only come when a test asks for them.
  cat > "$d/alertmanager.yml" <<YML
route:
  receiver: saslguard
  group_by: ['alertname', 'instance', 'sasl_username']
  group_wait: ${AM_GROUP_WAIT:-1s}
  group_interval: ${AM_GROUP_INTERVAL:-2s}
  repeat_interval: ${AM_REPEAT_INTERVAL:-1h}
receivers:
  - name: saslguard
    webhook_configs:
      - url: $url
        send_resolved: true
        max_alerts: 0
        http_config:
          authorization:
            type: Bearer
            credentials_file: $token_file
YML
}

am_url() { (. "$1/$2/env"; echo "http://127.0.0.1:$AM_PORT"); }

am_start() {
  local dir=$1 name=$2
  shift 2
  # shellcheck disable=SC1091
  . "$dir/$name/env"
  local cluster=(--cluster.listen-address=)
  if [ $# -gt 0 ]; then
    cluster=(--cluster.listen-address="127.0.0.1:$AM_CLUSTER_PORT" --cluster.advertise-address="127.0.0.1:$AM_CLUSTER_PORT"
             --cluster.peer-timeout="${AM_PEER_TIMEOUT:-15s}" --cluster.gossip-interval=50ms --cluster.pushpull-interval=1s)
    local peer
    for peer in "$@"; do
      cluster+=(--cluster.peer="127.0.0.1:$(. "$dir/$peer/env"; echo "$AM_CLUSTER_PORT")")
    done
  fi
  "$AM_BIN" --config.file="$AM_DIR/alertmanager.yml" --storage.path="$AM_DIR/data" \
    --web.listen-address="127.0.0.1:$AM_PORT" "${cluster[@]}" --log.level="${AM_LOG_LEVEL:-info}" \
    > "$AM_DIR/alertmanager.log" 2>&1 &
  echo $! > "$AM_DIR/pid"
  cleanup_push "am_stop '$dir' '$name'"
  wait_http "http://127.0.0.1:$AM_PORT/-/ready" 30
}

am_add_alert() {
  local dir=$1 name=$2
  shift 2
  amtool --alertmanager.url="$(am_url "$dir" "$name")" alert add "$@"
}

am_resolve_alert() {
  local dir=$1 name=$2
  shift 2
  # An alert whose endsAt is in the past is resolved; amtool wants --end after --start.
  amtool --alertmanager.url="$(am_url "$dir" "$name")" alert add "$@" \
    --start="$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)" --end="$(date -u -d '-1 second' +%Y-%m-%dT%H:%M:%SZ)"
}

am_stop() {
  local pidfile=$1/$2/pid
  [ -f "$pidfile" ] || return 0
  kill "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
}

# am_config_from_deploy OUT URL TOKEN_FILE [URL TOKEN_FILE...]: the shipped
# deploy/alertmanager.yml (route, group_wait, group_interval as shipped) with
# its one webhook replaced by one per URL, each with its bearer token file:
# every receiver gets every notification (an HA set-up, docs/fleet.md).
am_config_from_deploy() {
  local out=$1
  shift
  python3 - "$SASLGUARD_SOURCE_DIR/deploy/alertmanager.yml" "$out" "$@" <<'PY'
import sys, yaml
src, out, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
c = yaml.safe_load(open(src))
hooks = c["receivers"][0]["webhook_configs"]
assert len(hooks) == 1 and hooks[0]["url"].endswith("/alertmanager"), "deploy/alertmanager.yml changed shape"
shipped = hooks[0]
c["receivers"][0]["webhook_configs"] = [
    dict(shipped, url=url, http_config={"authorization": {"type": "Bearer", "credentials_file": token}})
    for url, token in zip(pairs[0::2], pairs[1::2])]
yaml.safe_dump(c, open(out, "w"), sort_keys=False)
PY
}
