# The project's image, for docker-compose.yml: the Airflow components, the MLflow server and the Spark Connect
# server all run it. The same lock as `make venv` (requirements.lock: every package pinned with its hashes).
FROM python:3.11.11-slim-bookworm

# Java 17 runs the Spark Connect server's JVM (pip's pyspark ships Spark itself); curl answers the health checks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless curl procps \
    && rm -rf /var/lib/apt/lists/*

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1

WORKDIR /opt/marketofone
COPY requirements.lock ./
RUN python -m venv /opt/venv \
    && pip install --no-cache-dir "uv==0.13.9" \
    && uv pip sync --python /opt/venv/bin/python --compile-bytecode requirements.lock

COPY . .
RUN uv pip install --python /opt/venv/bin/python --no-deps . \
    && mkdir -p /srv/marketofone

CMD ["marketofone", "--help"]
