#!/usr/bin/env bash
# Proves deploy/: lint and syntax of the playbooks and YAML, the compose
# template rendered by Ansible and run for real with podman-compose against
# the fake API until podman reports healthy, and the systemd unit checked by
# systemd-analyze. Needs root. Installs its tools: ansible (12 or later),
# ansible-lint, yamllint and podman-compose (1.6 or later) from PyPI into a
# venv; podman, runc and systemd from Debian.
set -euo pipefail
# Ansible refuses a non-blocking stdin, which CI can hand over.
exec </dev/null
cd "$(dirname "$0")/../.."
. tests/ship/lib.sh

VENV=${CSE_VENV:-/opt/cse-venv}
V=$VENV/bin
if ! "$V/python" -c 'import ansible, ansiblelint, yamllint, podman_compose' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$V/pip" install -q --disable-pip-version-check "ansible>=12" ansible-lint yamllint "podman-compose>=1.6"
fi
need_apt=""
for cmd in podman runc systemd-analyze; do command -v "$cmd" >/dev/null || need_apt=1; done
if [ -n "$need_apt" ]; then
  [ -f /tmp/.cse-apt-updated ] || { apt-get update -q >/dev/null && touch /tmp/.cse-apt-updated; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends podman runc systemd >/dev/null
fi
echo "tools: $("$V/ansible" --version | head -1), podman-compose $("$V/pip" show podman-compose | sed -n 's/^Version: //p'), $(podman --version)"

make --no-print-directory image-tar static
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
TAR=target/cloudflare-stream-exporter-$VERSION.tar
WORK=$(mktemp -d)
INSTALLED_BIN=""
cleanup() {
  if [ -f "$WORK/docker-compose.yml" ]; then
    (cd "$WORK" && CONTAINERS_CONF=$WORK/containers.conf CONTAINERS_STORAGE_CONF=$WORK/storage.conf \
      timeout 60 "$V/podman-compose" -f docker-compose.yml down >/dev/null 2>&1) || true
  fi
  [ -n "${FAKE_PID:-}" ] && kill "$FAKE_PID" 2>/dev/null || true
  [ -n "$INSTALLED_BIN" ] && rm -f "$INSTALLED_BIN"
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== ansible: syntax and lint"
for playbook in playbook.yml systemd.yml; do
  if (cd deploy/ansible && "$V/ansible-playbook" --syntax-check -i inventory.example \
        -e 'ansible_python_interpreter={{ ansible_playbook_python }}' "$playbook" >/dev/null); then
    pass "ansible-playbook --syntax-check $playbook"
  else
    fail "ansible-playbook --syntax-check $playbook"
  fi
done
if (cd deploy/ansible && PATH="$V:$PATH" "$V/ansible-lint" --nocolor playbook.yml systemd.yml); then
  pass "ansible-lint"
else
  fail "ansible-lint"
fi
if (cd deploy && "$V/yamllint" -s .); then pass "yamllint deploy/"; else fail "yamllint deploy/"; fi

echo "== the compose template, rendered by Ansible"
FAKE_PORT=$(free_port)
PORT=$(free_port)
start_fake "$FAKE_PORT"
cat > "$WORK/vars.yml" <<VARS
cloudflare_stream_image: "localhost/cloudflare-stream-exporter:$VERSION"
cloudflare_stream_port: $PORT
cloudflare_stream_api_key: "$FAKE_TOKEN"
cloudflare_stream_url: "http://127.0.0.1:$FAKE_PORT/client/v4/accounts/$FAKE_ACCOUNT/stream/storage-usage"
cloudflare_stream_dir: "$WORK"
cloudflare_stream_network_mode: host
VARS
ANSIBLE_LOCALHOST_WARNING=false "$V/ansible" localhost -c local \
  -e "ansible_python_interpreter=$V/python" -e "@$WORK/vars.yml" \
  -m ansible.builtin.template \
  -a "src=deploy/ansible/templates/docker-compose.yml.j2 dest=$WORK/docker-compose.yml mode=0644" >/dev/null
if "$V/python" - "$WORK/docker-compose.yml" "$FAKE_TOKEN" <<'PY'
import sys, yaml
text = open(sys.argv[1]).read()
doc = yaml.safe_load(text)
s = doc["services"]["cloudflare-exporter"]
checks = {
    "healthcheck through the binary": s["healthcheck"]["test"] == ["CMD", "/cloudflare-stream-exporter", "healthcheck"],
    "read_only": s["read_only"] is True,
    "cap_drop ALL": s["cap_drop"] == ["ALL"],
    "no-new-privileges": "no-new-privileges:true" in s["security_opt"],
    "restart unless-stopped": s["restart"] == "unless-stopped",
    "json-file rotation": s["logging"]["driver"] == "json-file" and s["logging"]["options"]["max-size"] == "10m" and s["logging"]["options"]["max-file"] == "5",
    "memory limit": s["mem_limit"] == "32m",
    "token from a secret": s["environment"]["CLOUDFLARE_API_TOKEN_FILE"] == "/run/secrets/cloudflare_api_token" and "cloudflare_api_token" in s["secrets"],
    "token not inline": sys.argv[2] not in text,
    "old contract: API_URL": "API_URL" in s["environment"],
    "old names: container": s["container_name"] == "cloudflare-stream-exporter",
}
for name, ok in checks.items():
    print(("ok      " if ok else "MISSING ") + name)
sys.exit(0 if all(checks.values()) else 1)
PY
then pass "rendered template is compose YAML with the healthcheck and hardening"; else fail "rendered template"; fi
# The default rendering (bridge network) publishes the old port mapping.
sed -e '/network_mode/d' "$WORK/vars.yml" > "$WORK/vars-bridge.yml"
ANSIBLE_LOCALHOST_WARNING=false "$V/ansible" localhost -c local \
  -e "ansible_python_interpreter=$V/python" -e "@$WORK/vars-bridge.yml" -e cloudflare_stream_port=8099 \
  -m ansible.builtin.template \
  -a "src=deploy/ansible/templates/docker-compose.yml.j2 dest=$WORK/bridge.yml mode=0644" >/dev/null
if grep -q '"8099:8099"' "$WORK/bridge.yml"; then pass "bridge rendering maps {{ cloudflare_stream_port }}:8099"; else fail "no port mapping"; fi

echo "== podman-compose up, for real"
cat > "$WORK/containers.conf" <<'CONF'
# crun fails here on setrlimit; runc with lowered limits works.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
cat > "$WORK/storage.conf" <<CONF
[storage]
driver = "vfs"
runroot = "$WORK/run"
graphroot = "$WORK/graph"
CONF
export CONTAINERS_CONF=$WORK/containers.conf CONTAINERS_STORAGE_CONF=$WORK/storage.conf
podman load -q -i "$TAR" >/dev/null
# What the playbook does: the token as a secret file for the image's user.
printf '%s' "$FAKE_TOKEN" | install -m 0400 -o 65534 -g 65534 /dev/stdin "$WORK/cloudflare_api_token"
(cd "$WORK" && timeout 120 "$V/podman-compose" -f docker-compose.yml up -d 2>&1 | grep -v 'systemd connection' || true)
wait_http "http://127.0.0.1:$PORT/healthz" 30 || true
HEALTHY=""
for _ in $(seq 1 20); do
  if podman healthcheck run cloudflare-stream-exporter >/dev/null 2>&1; then HEALTHY=1; break; fi
  sleep 0.5
done
STATUS=$(podman inspect --format '{{.State.Health.Status}}' cloudflare-stream-exporter 2>/dev/null || echo none)
echo "podman healthcheck: ${HEALTHY:+healthy}; State.Health.Status=$STATUS"
if [ -n "$HEALTHY" ] && [ "$STATUS" = healthy ]; then pass "podman reports healthy"; else fail "podman health: $STATUS"; fi
PAGE=$(http_get "http://127.0.0.1:$PORT/metrics" || true)
if echo "$PAGE" | grep -qx "cloudflare_stream_storage_used_seconds{account_id=\"$FAKE_ACCOUNT\"} 74070"; then
  pass "scraped the compose service: the fake's values came through"
else
  fail "the compose service's scrape lacks the fake's values"
  podman logs cloudflare-stream-exporter 2>&1 | tail -5 || true
fi
if podman logs cloudflare-stream-exporter 2>&1 | grep -q "token from CLOUDFLARE_API_TOKEN_FILE"; then
  pass "the token came from the Docker secret"
else
  fail "the token did not come from the secret"
fi

echo "== systemd unit"
UNIT=deploy/systemd/cloudflare-stream-exporter.service
if [ ! -e /usr/local/bin/cloudflare-stream-exporter ]; then
  install -m 0755 target/x86_64-unknown-linux-musl/release/cloudflare-stream-exporter /usr/local/bin/cloudflare-stream-exporter
  INSTALLED_BIN=/usr/local/bin/cloudflare-stream-exporter
fi
# systemd-analyze verify reports misspelled keys as warnings and still exits
# 0, so any output on stderr counts as a failure.
if systemd-analyze verify "$UNIT" 2>"$WORK/verify.err" && [ ! -s "$WORK/verify.err" ]; then
  pass "systemd-analyze verify"
else
  cat "$WORK/verify.err"; fail "systemd-analyze verify"
fi
# The check must be able to fail: a misspelled key is caught.
sed 's/^ProtectHome=/ProtectHomme=/' "$UNIT" > "$WORK/cloudflare-stream-exporter.service"
if systemd-analyze verify "$WORK/cloudflare-stream-exporter.service" 2>&1 | grep -q ProtectHomme; then
  pass "systemd-analyze verify catches a misspelled key"
else
  fail "a misspelled key went unnoticed"
fi
SCORE=$(systemd-analyze security --offline=true "$UNIT" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: //p')
echo "systemd-analyze security --offline=true: $SCORE"
case "$SCORE" in
  0.*|1.*) pass "systemd exposure $SCORE" ;;
  *) fail "systemd exposure $SCORE" ;;
esac
for key in DynamicUser=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes \
           'CapabilityBoundingSet=$' 'RestrictAddressFamilies=AF_INET AF_INET6' 'SystemCallFilter=@system-service' \
           'MemoryMax=' 'Restart=on-failure' 'LoadCredential=' 'api-token-file=${CREDENTIALS_DIRECTORY}'; do
  grep -q -- "$key" "$UNIT" || fail "unit lacks $key"
done

echo "deploy: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
