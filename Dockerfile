# The project's image for production (infra/terraform: the Dagster code location and every run pod of
# the K8sRunLauncher). The Spark jobs talk to the cluster's Spark Connect server (SPARK_REMOTE), so no
# JVM is needed here. Build: docker build -t <ecr>/unmogrowp:$(git rev-parse --short HEAD) .
FROM python:3.11-slim-bookworm

COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH DBT_SEND_ANONYMOUS_USAGE_STATS=false
WORKDIR /opt/unmogrowp

# the locked dependencies first (a layer that changes only with uv.lock), without the dev group
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY src src
COPY orchestration orchestration
COPY assets assets
COPY ml ml
COPY data_quality data_quality
COPY dbt_project dbt_project
COPY workspace.yaml ./
RUN uv sync --frozen --no-dev \
    && python -c "from assets.dbt_project import prepare_manifest; prepare_manifest()" \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin unmogrowp \
    && mkdir -p /tmp/unmogrowp && chown -R unmogrowp /tmp/unmogrowp dbt_project

USER 10001
ENV UNMOGROWP_HOME=/tmp/unmogrowp
EXPOSE 3030
CMD ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "3030", "-m", "orchestration.definitions"]
