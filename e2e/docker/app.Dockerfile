# Gunicorn for the Docker e2e test: Debian's gunicorn and flask on the same
# bookworm base as the observer's image; the app (integration/app.py) is
# mounted at run time.
FROM debian:bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gunicorn python3-flask \
 && rm -rf /var/lib/apt/lists/*
ENV PYTHONDONTWRITEBYTECODE=1
ENTRYPOINT ["gunicorn"]
