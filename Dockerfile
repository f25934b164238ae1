# One image for every shopflow process; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system shopflow && useradd --system --gid shopflow --home-dir /app shopflow

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY services ./services
COPY broker ./broker
COPY runner ./runner
COPY scenario ./scenario
# constraints.txt: the versions the test suite ran with (README, "Dependencies")
RUN pip install -c constraints.txt . && mkdir -p /app/var && chown -R shopflow:shopflow /app/var

# No secrets here: every password comes from the environment at run time.
USER shopflow
