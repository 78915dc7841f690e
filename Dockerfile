# The broker's container image: `brp-broker serve` as a non-root user on a read-only root filesystem.
#
#   docker build -t brp-broker:0.1.0 .
#   podman build -t brp-broker:0.1.0 .
#
# BASE_IMAGE must provide python3 (3.11+) with the venv module; both stages use it, so the venv
# built in the first stage runs unchanged in the second. tests/container/build_image.sh builds this
# file from a locally made Debian base where no registry of images can be reached.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# ---- build: the wheel of this repository, installed with its pinned dependencies into a venv ----
FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# A venv of its own for pip, so the runtime venv below holds no installer at all.
RUN python3 -m venv /opt/build-tools
COPY . /src
# `pip wheel .` builds exactly what `pip install brp-broker` would ship (app, migrations, specs,
# catalogue): what the image runs is the wheel, never the source tree.
RUN /opt/build-tools/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
 && python3 -m venv --without-pip /opt/brp-broker \
 && /opt/build-tools/bin/pip --python /opt/brp-broker/bin/python install --no-cache-dir /wheels/*.whl \
 && /opt/brp-broker/bin/brp-broker --help > /dev/null

# ---- runtime: the base image plus the venv; no compiler, no pip, no package cache added ----
FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
ARG SOURCE_URL=""
ARG REVISION=""
LABEL org.opencontainers.image.title="brp-broker" \
      org.opencontainers.image.description="Multi-tenant gateway to RvIG's BRP API" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="EUPL-1.2"

COPY --from=build /opt/brp-broker /opt/brp-broker

# Listen on every interface of the container (a variable wins over the config file's `host`).
# Nothing is written below / except to /tmp, mounted writable: HOME, and the state folder that
# only `dev` uses. Logs are JSON lines (no TTY); the bytecode was compiled at install.
ENV PATH=/opt/brp-broker/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    BROKER_HOST=0.0.0.0 \
    BROKER_STATE_DIR=/tmp/brp-broker
WORKDIR /tmp

# A numeric user, so `runAsNonRoot` can verify it without a passwd entry.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["brp-broker"]
CMD ["serve"]
