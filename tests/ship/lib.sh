# Shared by the shipping checks: free ports, HTTP GETs, the fake API.
# Everything listens on and talks to 127.0.0.1 only.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# http_get URL: prints the body; fails on a non-200 or no answer.
http_get() {
  python3 - "$1" <<'PY'
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with opener.open(sys.argv[1], timeout=10) as r:
    sys.stdout.write(r.read().decode())
PY
}

# wait_http URL [SECONDS]: waits until URL answers 200.
wait_http() {
  local deadline=$(( $(date +%s) + ${2:-20} ))
  until http_get "$1" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "no answer from $1"; return 1; fi
    sleep 0.2
  done
}

# start_fake PORT: the fake Cloudflare API of the tests, on 127.0.0.1:PORT.
start_fake() {
  cargo build -q --release --locked --example fake-cloudflare
  ./target/release/examples/fake-cloudflare --listen "127.0.0.1:$1" >/tmp/cse-fake-$1.log 2>&1 &
  FAKE_PID=$!
  FAKE_TOKEN=$(./target/release/examples/fake-cloudflare --print-token)
  FAKE_ACCOUNT=023e105f4ecef8ad9ca31a8372d0c353
  sleep 0.3
}

pass() { echo "PASS: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
PASSED=0
FAILED=0
