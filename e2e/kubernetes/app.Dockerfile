# The sample Gunicorn of test_daemonset.sh: Debian's gunicorn, as on the hosts
# the integration suite runs on. The WSGI app comes from a ConfigMap.
FROM debian:12-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends gunicorn python3 \
    && rm -rf /var/lib/apt/lists/*
