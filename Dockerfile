# The hedgehog-sync user-code image: the package with its pinned dependencies, serving
# hedgehog_sync.definitions to Dagster over gRPC. The same image runs every sync run: the
# K8sRunLauncher starts it with its own arguments (`dagster api execute_run ...`), which replace CMD.
#   docker build -t registry.example.com/netops/hedgehog-sync:$(git rev-parse --short HEAD) .
FROM python:3.11.14-slim-bookworm

# GitPython drives the git binary; ca-certificates for https remotes. Debian's security updates
# replace package versions in place, so they are not pinned: rebuild to pick up fixes.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home

WORKDIR /opt/hedgehog-sync
COPY pyproject.toml setup.cfg README.md ./
COPY hedgehog_sync ./hedgehog_sync
# The package and its pinned dependencies (setup.cfg), without the test extras.
RUN pip install --no-cache-dir .

# A fixed numeric uid, so Kubernetes can check runAsNonRoot and fsGroup can match it. The fleet's
# state is in the instance's database (docs/state.md): the image keeps none. Git clones are scratch
# under $HEDGEHOG_SYNC_GIT_SCRATCH (an emptyDir mounted at /var/cache/hedgehog-sync in Kubernetes;
# the mount point is the user's, so the same setting also works without the mount), else /tmp.
RUN groupadd --gid 10001 hedgehog \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin hedgehog \
    && mkdir -p /opt/dagster/dagster_home /var/cache/hedgehog-sync \
    && chown hedgehog:hedgehog /opt/dagster/dagster_home /var/cache/hedgehog-sync
USER 10001:10001
WORKDIR /home/hedgehog

EXPOSE 4000
CMD ["dagster", "api", "grpc", "-m", "hedgehog_sync.definitions", "-h", "0.0.0.0", "-p", "4000"]
