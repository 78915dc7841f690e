#!/usr/bin/env bash
# Build the broker's image with podman (no Docker engine needed) and check what runs in it:
# the entrypoint, a non-root numeric user, and the commands on a read-only root filesystem.
#
#   bash tests/container/build_image.sh          # needs root: apt-get install -y podman runc debootstrap
#
# Where no image registry can be reached, the base is made locally with debootstrap (Debian
# bookworm + python3, ~1 min on first use, kept as localhost/debian-bookworm-py:local) and passed
# as BASE_IMAGE; production builds use the Dockerfile's default base unchanged.
# Exit status: 0 all checks passed, 1 a check failed, 77 podman/runc/debootstrap missing (skipped).
set -euo pipefail
cd "$(dirname "$0")/../.."

BASE_IMAGE=${BASE_IMAGE:-localhost/debian-bookworm-py:local}
IMAGE=${IMAGE:-localhost/brp-broker:test}
VERSION=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
# The limits DESIGN.md found podman needs on this machine kind.
RUN=(podman --runtime runc run --rm --ulimit nofile=20000:20000 --ulimit nproc=1024:1024)

for tool in podman runc debootstrap; do
  if ! command -v "$tool" > /dev/null; then
    echo "SKIP: $tool not found (as root: apt-get install -y podman runc debootstrap)"
    exit 77
  fi
done

make_local_base() {
  local rootfs
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' RETURN
  echo "== making $BASE_IMAGE with debootstrap"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" > /dev/null
  # This machine reaches PyPI through its own CA: the build's pip must trust what the host trusts.
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import --quiet - "$BASE_IMAGE" > /dev/null
}

if [[ $BASE_IMAGE == localhost/* ]] && ! podman image exists "$BASE_IMAGE"; then
  make_local_base
fi

echo "== building $IMAGE from $BASE_IMAGE"
previous=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2> /dev/null || true)
started=$SECONDS
podman build --isolation=chroot --layers=false --quiet \
  --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg VERSION="$VERSION" \
  --build-arg REVISION="$(git rev-parse HEAD 2> /dev/null || true)" \
  -t "$IMAGE" . > /dev/null
echo "built in $((SECONDS - started)) s, $(podman image inspect --format '{{.Size}}' "$IMAGE") bytes"
# The image this tag named before is left untagged: remove it, so reruns do not pile up images.
if [[ -n $previous && $previous != "$(podman image inspect --format '{{.Id}}' "$IMAGE")" ]]; then
  podman rmi "$previous" > /dev/null 2>&1 || true
fi

passed=0
failed=0
output=$(mktemp)
trap 'rm -f "$output"' EXIT
check() {  # check NAME COMMAND...: the command must succeed
  local name=$1
  shift
  if "$@" > "$output" 2>&1; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    sed 's/^/     /' "$output"
    failed=$((failed + 1))
  fi
}
label() { podman image inspect --format "{{index .Labels \"org.opencontainers.image.$1\"}}" "$IMAGE"; }
config() { podman image inspect --format "{{json .Config.$1}}" "$IMAGE"; }

check "entrypoint brp-broker, command serve" \
  test "$(config Entrypoint)$(config Cmd)" = '["brp-broker"]["serve"]'
check "user is numeric and not root" bash -c "[[ \$(podman image inspect --format '{{.Config.User}}' $IMAGE) =~ ^[1-9][0-9]*:[1-9][0-9]*$ ]]"
check "port 8080 exposed" bash -c "podman image inspect --format '{{json .Config.ExposedPorts}}' $IMAGE | grep -q '8080/tcp'"
check "licence label EUPL-1.2" test "$(label licenses)" = EUPL-1.2
check "version label is the project's" test "$(label version)" = "$VERSION"
check "brp-broker --help runs" "${RUN[@]}" "$IMAGE" --help
check "process runs as uid 10001, not root" \
  bash -c "test \"\$(${RUN[*]} --entrypoint id $IMAGE -u)\" = 10001"
check "--help on a read-only root" "${RUN[@]}" --read-only "$IMAGE" --help
check "migrate --help on a read-only root" "${RUN[@]}" --read-only "$IMAGE" migrate --help
check "tenants apply --help on a read-only root" "${RUN[@]}" --read-only "$IMAGE" tenants apply --help
check "the wheel carries the migrations, specs and catalogue" "${RUN[@]}" --read-only --entrypoint python3 "$IMAGE" -c '
import importlib.resources as r, pathlib
from app.db.migrations import default_migrations_dir, load_migrations
app = pathlib.Path(str(r.files("app")))
assert list((app / "brp" / "specs").glob("*.yaml")), "no specs"
assert list((app / "brp" / "catalogue").glob("*.csv")), "no catalogue"
assert load_migrations(default_migrations_dir()), "no migrations"
'
check "serve refuses to start without a database, with one line" bash -c "
  out=\$(${RUN[*]} --read-only $IMAGE 2>&1); rc=\$?
  test \$rc = 2 && test \"\$out\" = 'brp-broker: BROKER_DATABASE_URL: is required for \`serve\` (\`brp-broker dev\` starts an embedded database)'"
check "no compiler and no pip in the runtime venv" "${RUN[@]}" --entrypoint python3 "$IMAGE" -c '
import shutil, pathlib
assert not any(shutil.which(c) for c in ("gcc", "cc", "make")), "a compiler"
assert not list(pathlib.Path("/opt/brp-broker").rglob("pip")), "pip in the venv"
'
# shellcheck disable=SC2016  # expanded inside the container
check "nothing under /root/.cache or /tmp" "${RUN[@]}" --user 0 --entrypoint sh "$IMAGE" -c \
  'test -z "$(ls -A /tmp)" && ! test -e /root/.cache'

# The image against a real PostgreSQL, when one answers here: migrate, apply the demo tenants and
# serve, all on a read-only root, then stop on SIGTERM. A throw-away database, dropped at the end.
ADMIN_URL=${BRP_IMAGE_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
if command -v psql > /dev/null && psql "$ADMIN_URL" -Atqc 'SELECT 1' > /dev/null 2>&1; then
  database="brp_image_check_$$"
  container="brp-image-check-$$"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  owner_url="${ADMIN_URL%/*}/$database"
  runtime_url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p._replace(netloc="brp_app@" + p.netloc.rpartition("@")[2]).geturl())' "$owner_url")
  cleanup() {
    rm -f "$output"
    podman rm --force "$container" > /dev/null 2>&1 || true
    psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $database" > /dev/null 2>&1 || true
  }
  trap cleanup EXIT
  psql "$ADMIN_URL" -qc "CREATE DATABASE $database" > /dev/null
  NET=("${RUN[@]}" --network host --read-only)
  check "migrate on a read-only root" "${NET[@]}" -e BROKER_DATABASE_OWNER_URL="$owner_url" "$IMAGE" migrate
  check "tenants apply on a read-only root" "${NET[@]}" -v "$PWD/tenants:/tenants:ro" \
    -e BROKER_DATABASE_OWNER_URL="$owner_url" "$IMAGE" tenants apply /tenants
  podman --runtime runc run -d --name "$container" --ulimit nofile=20000:20000 --ulimit nproc=1024:1024 \
    --network host --read-only -e BROKER_HOST=127.0.0.1 -e BROKER_PORT="$port" \
    -e BROKER_DATABASE_URL="$runtime_url" "$IMAGE" > /dev/null
  ready() {  # until /health/ready answers 200, for at most 60 s
    local deadline=$((SECONDS + 60))
    until curl -sf "http://127.0.0.1:$port/health/ready"; do
      if ((SECONDS > deadline)) || [[ $(podman inspect --format '{{.State.Running}}' "$container") != true ]]; then
        podman logs "$container" 2>&1 | tail -5
        return 1
      fi
      sleep 0.5
    done
  }
  check "serve on a read-only root answers /health/ready" ready
  check "SIGTERM stops serve with exit status 0" bash -c "
    podman stop --time 30 $container > /dev/null &&
    test \"\$(podman inspect --format '{{.State.ExitCode}}' $container)\" = 0"
else
  echo "skip the PostgreSQL checks: no PostgreSQL answers at BRP_IMAGE_ADMIN_URL ($ADMIN_URL)"
fi

echo "$passed passed, $failed failed"
test "$failed" = 0
