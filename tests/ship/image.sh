#!/usr/bin/env bash
# Proves the scratch image: its contents, its size, its config, a scrape
# through its own entrypoint against the fake API, its HEALTHCHECK, and
# log times in Europe/Moscow. Needs root (buildah with vfs and chroot).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/ship/lib.sh

make --no-print-directory image-tar
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
IMAGE=cloudflare-stream-exporter:$VERSION
TAR=target/cloudflare-stream-exporter-$VERSION.tar
B="buildah --storage-driver vfs"
CTR=""
cleanup() {
  [ -n "${RUN_PID:-}" ] && kill "$RUN_PID" 2>/dev/null || true
  pkill -f 'buildah-chroot-exec /cloudflare-stream-exporter' 2>/dev/null || true
  [ -n "${FAKE_PID:-}" ] && kill "$FAKE_PID" 2>/dev/null || true
  [ -n "$CTR" ] && $B rm "$CTR" >/dev/null 2>&1 || true
  rm -rf "${WORK:-}"
}
trap cleanup EXIT
WORK=$(mktemp -d)

echo "== image contents"
tar -xf "$TAR" -C "$WORK" manifest.json
LAYERS=$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))[0]["Layers"]))' "$WORK/manifest.json")
: > "$WORK/files"
LAYER_BYTES=0
for layer in $LAYERS; do
  tar -xf "$TAR" -C "$WORK" "$layer"
  real=$(readlink -f "$WORK/$layer")
  LAYER_BYTES=$((LAYER_BYTES + $(stat -c %s "$real")))
  tar -tvf "$real" | tee -a "$WORK/listing"
  tar -tf "$real" >> "$WORK/files"
done
unexpected=$(grep -v -x -e 'cloudflare-stream-exporter' -e 'usr/' -e 'usr/share/' \
  -e 'usr/share/zoneinfo/' -e 'usr/share/zoneinfo/Europe/' -e 'usr/share/zoneinfo/Europe/Moscow' \
  "$WORK/files" || true)
if [ -z "$unexpected" ] && grep -qx cloudflare-stream-exporter "$WORK/files" \
   && grep -qx usr/share/zoneinfo/Europe/Moscow "$WORK/files"; then
  pass "the image holds the binary and one zoneinfo file, nothing else"
else
  fail "unexpected files in the image: $unexpected"
fi

echo "== image size"
echo "image size: $LAYER_BYTES bytes uncompressed (limit 1048576); tarball $(stat -c %s "$TAR") bytes"
if [ "$LAYER_BYTES" -lt 1048576 ]; then pass "image under 1 MiB"; else fail "image is $LAYER_BYTES bytes"; fi

echo "== image config"
$B inspect --type image "$IMAGE" > "$WORK/config.json"
check_config() {
  python3 - "$1" "$WORK/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[2]))["Docker"]["config"]
checks = {
    "healthcheck": c.get("Healthcheck", {}).get("Test") == ["CMD", "/cloudflare-stream-exporter", "healthcheck"],
    "user": c.get("User") == "65534:65534",
    "expose": "8099/tcp" in (c.get("ExposedPorts") or {}),
    "tz": "TZ=Europe/Moscow" in (c.get("Env") or []),
    "entrypoint": c.get("Entrypoint") == ["/cloudflare-stream-exporter"],
    "labels": all(k in (c.get("Labels") or {}) for k in (
        "org.opencontainers.image.source", "org.opencontainers.image.version",
        "org.opencontainers.image.licenses")),
}
ok = checks[sys.argv[1]]
print(sys.argv[1], "ok" if ok else "MISSING")
sys.exit(0 if ok else 1)
PY
}
for k in healthcheck user expose tz entrypoint labels; do
  if check_config "$k" >/dev/null; then pass "config: $k"; else fail "config: $k"; fi
done

echo "== a scrape through the image's own entrypoint"
FAKE_PORT=$(free_port)
PORT=$(free_port)
start_fake "$FAKE_PORT"
CTR=$($B from "$IMAGE")
ENTRYPOINT=$($B inspect --type image --format '{{range .Docker.Config.Entrypoint}}{{.}} {{end}}' "$IMAGE")
# shellcheck disable=SC2086
$B run --isolation chroot \
  --env CLOUDFLARE_API_TOKEN="$FAKE_TOKEN" \
  --env CLOUDFLARE_ACCOUNT_ID="$FAKE_ACCOUNT" \
  --env CLOUDFLARE_API_URL="http://127.0.0.1:$FAKE_PORT/client/v4" \
  --env WEB_LISTEN_ADDRESS="127.0.0.1:$PORT" \
  "$CTR" -- $ENTRYPOINT >"$WORK/run.log" 2>&1 &
RUN_PID=$!
wait_http "http://127.0.0.1:$PORT/healthz" 30
PAGE=$(http_get "http://127.0.0.1:$PORT/metrics")
echo "$PAGE" | grep -E '^cloudflare_stream_(up|storage_used_seconds|storage_limit_seconds|videos)\{' || true
if echo "$PAGE" | grep -qx "cloudflare_stream_storage_used_seconds{account_id=\"$FAKE_ACCOUNT\"} 74070" \
   && echo "$PAGE" | grep -qx "cloudflare_stream_up{account_id=\"$FAKE_ACCOUNT\"} 1"; then
  pass "scraped through the image: the fake's values came through"
else
  fail "the scrape through the image lacks the fake's values"
fi

echo "== the image's HEALTHCHECK, run inside the image"
HC=$($B inspect --type image --format '{{range .Docker.Config.Healthcheck.Test}}{{.}} {{end}}' "$IMAGE")
HC=${HC#CMD }
set +e
# shellcheck disable=SC2086
$B run --isolation chroot --env WEB_LISTEN_ADDRESS="127.0.0.1:$PORT" "$CTR" -- $HC
HC_RC=$?
set -e
echo "healthcheck exit code: $HC_RC"
if [ "$HC_RC" = 0 ]; then pass "HEALTHCHECK exits 0"; else fail "HEALTHCHECK exited $HC_RC"; fi

echo "== log times from inside the image"
head -1 "$WORK/run.log"
if head -1 "$WORK/run.log" | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+\+03:00 INFO '; then
  pass "the log line carries Europe/Moscow's +03:00"
else
  fail "no +03:00 offset in the image's log"
fi

echo "== SIGTERM to the image's process"
EXPORTER_PID=$(pgrep -f -u 65534 -x '/cloudflare-stream-exporter' | head -1 || true)
if [ -n "$EXPORTER_PID" ]; then
  START=$(date +%s%N)
  kill -TERM "$EXPORTER_PID"
  for _ in $(seq 1 100); do kill -0 "$EXPORTER_PID" 2>/dev/null || break; sleep 0.01; done
  MS=$(( ($(date +%s%N) - START) / 1000000 ))
  if kill -0 "$EXPORTER_PID" 2>/dev/null; then fail "still running 1 s after SIGTERM"; else pass "exited ${MS} ms after SIGTERM"; fi
else
  fail "could not find the image's process"
fi

echo "image: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
