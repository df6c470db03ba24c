# portbot in a container: Debian slim, Tesseract for scanned bills and photos,
# a non-root user, the state file on a volume. See docs/operations.md.
#
#   docker build -t portbot .
#   docker run -d --name portbot --restart on-failure \
#     --env-file /etc/portbot/portbot.env \
#     -v /etc/portbot/portbot.toml:/etc/portbot/portbot.toml:ro \
#     -v portbot-state:/var/lib/portbot \
#     -p 127.0.0.1:9478:9478 \
#     --stop-timeout 180 portbot
#
# In portbot.toml: [state] path = "/var/lib/portbot/portbot-state.sqlite3" and
# [metrics] host = "0.0.0.0" (inside the container; publish the port on loopback).
FROM python:3.11-slim-bookworm

# Tesseract with English and orientation/script data (upside-down and rotated scans).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMP_THREAD_LIMIT=1 \
    PATH=/opt/portbot/.venv/bin:$PATH

# The same layout as the systemd unit: a virtualenv in /opt/portbot/.venv.
# Only what the package needs is copied (see .dockerignore): no tests, no fixtures.
WORKDIR /opt/portbot/src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY parsers ./parsers
COPY rules ./rules
RUN python -m venv /opt/portbot/.venv \
 && /opt/portbot/.venv/bin/pip install . \
 && rm -rf /opt/portbot/src

# An unprivileged user owning only the state directory.
RUN groupadd --system --gid 10001 portbot \
 && useradd --system --uid 10001 --gid portbot --home-dir /var/lib/portbot \
            --shell /usr/sbin/nologin portbot \
 && install -d -m 0700 -o portbot -g portbot /var/lib/portbot \
 && install -d -m 0755 /etc/portbot
USER portbot
WORKDIR /var/lib/portbot
VOLUME ["/var/lib/portbot"]

# /metrics and /healthz ([metrics] port).
EXPOSE 9478
HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9478/healthz', timeout=5)"]

# portbot is PID 1 and handles SIGTERM itself: it finishes the message in hand.
STOPSIGNAL SIGTERM
ENTRYPOINT ["portbot"]
CMD ["run", "--config", "/etc/portbot/portbot.toml"]
