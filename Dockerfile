# PaletteAI Admin image: one image for web (gunicorn), worker and beat (celery), and the migrate Job.
# Build: docker build -t registry.example.com/paletteai/paletteai-admin:0.1.0 .
# Pin the base images by digest in your registry for reproducible builds (docs/operations.md).

# --- Front-end packages (Pico CSS, Chart.js) from npm, exactly as locked; no CDN at run time.
FROM node:20-bookworm-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- The application.
FROM python:3.11-slim AS app
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/app/data \
    DJANGO_SETTINGS_MODULE=paletteai_admin.settings
WORKDIR /app

# Exactly the pinned runtime dependencies (no dev/test packages in the image).
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# Only the vendor files the settings serve (STATICFILES_DIRS), at the paths they expect.
COPY --from=assets /build/node_modules/@picocss/pico/css ./node_modules/@picocss/pico/css
COPY --from=assets /build/node_modules/chart.js/dist ./node_modules/chart.js/dist
COPY . .

# Static files collected at build time. The keys below exist only for this build step (settings
# refuse to start without them); real ones come from the Secret at run time. REDIS_URL and
# DATABASE_URL keep the settings from creating the filesystem broker folders and an empty SQLite
# file in the image. DATA_DIR is private (0700), so it belongs to the user the image runs as.
RUN SECRET_KEY=collectstatic-build-only-not-a-secret \
    FIELD_ENCRYPTION_KEY=MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA= \
    REDIS_URL=redis://build-only.invalid:6379/0 \
    DATABASE_URL=postgres://build-only.invalid:5432/build-only \
    python manage.py collectstatic --no-input -v0 \
 && python -m compileall -q /app \
 && groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app \
 && chown 10001:10001 "$DATA_DIR"

# Non-root; the root filesystem can be read-only (writable /tmp from an emptyDir).
USER 10001:10001
EXPOSE 8000
CMD ["gunicorn", "paletteai_admin.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--worker-tmp-dir", "/tmp", "--access-logfile", "-"]
