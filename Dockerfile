# The pchat-dr image: the worker (the default command), the pchat-dr CLI and the simulator, all from one build.
#
#   docker build -t pchat-dr .                                  # or: docker compose build
#   docker build --build-arg WITH_POWERSHELL=true -t pchat-dr .  # adds PowerShell 7 and an SSH client (x86-64 only)
#
# Node 24 LTS is the runtime the project is built and tested on (package.json engines.node: >=22.12; see
# docs/deployment.md).

# ---- build: every dependency, then dist/ and the prebuilt workflow bundle -----------------------------------
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own "prepare" script runs the build, and the sources are not here yet. No
# dependency needs its install script (@swc/core's native binary is an optional dependency, installed as such).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
# tsc, then worker/bundle.ts writes dist/workflow-bundle.js, which the worker loads instead of bundling on start.
RUN npm run build \
 && test -f dist/client/cli.js \
 && test -f dist/workflow-bundle.js

# ---- runtime: production dependencies and the build output, run as the unprivileged node user ----------------
FROM node:24-bookworm-slim AS runtime

# The pool-control command of a real estate is PowerShell: `pwsh -NoProfile -NonInteractive -Command`, or a wrapper
# that runs the cmdlet on a Windows server with the Lync / Skype for Business Management Shell through PowerShell
# remoting over SSH (the Management Shell is Windows-only; WinRM remoting from Linux needs unsupported add-ons).
# Microsoft's Debian package of PowerShell is for x86-64 only. Rehearsals need neither: the simulator's stand-in
# Management Shell is a Node script in this image.
ARG WITH_POWERSHELL=false
RUN if [ "$WITH_POWERSHELL" = "true" ]; then \
      apt-get update \
      && apt-get install -y --no-install-recommends ca-certificates wget \
      && . /etc/os-release \
      && wget -q -O /tmp/packages-microsoft-prod.deb "https://packages.microsoft.com/config/debian/$VERSION_ID/packages-microsoft-prod.deb" \
      && dpkg -i /tmp/packages-microsoft-prod.deb \
      && rm /tmp/packages-microsoft-prod.deb \
      && apt-get update \
      && apt-get install -y --no-install-recommends powershell openssh-client \
      && rm -rf /var/lib/apt/lists/*; \
    fi

ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts again: "prepare" would run tsc, a devDependency that is not installed here.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The approval console's script and style sheet, served as they are (pchat-dr console).
COPY client/console/assets ./client/console/assets
# The topology examples: production.yaml (the template) and the rehearsal estates with their simulator secret.
COPY examples ./examples

# Mount points, owned by node so that fresh named volumes mounted there are writable by the worker:
#   /mnt/pchat-logship      the log-shipping backup share (topology backupShare.workerPath)
#   /mnt/dc2-logship-copy   the copy folder on the backup SQL Server (topology copyFolder.workerPath)
#   /etc/pchat-dr           secret files (file:/etc/pchat-dr/... references), mounted read-only
#   /etc/pchat-dr/estates   the topology files of the pools the worker serves, mounted read-only (root's: the worker
#                           may read them, never change them)
#   /app/examples/.sim      a rehearsal's simulator state (the pool-state file the stand-in shell uses)
# `pchat-dr` on the PATH runs the CLI: docker compose exec worker pchat-dr ...
RUN mkdir -p /mnt/pchat-logship /mnt/dc2-logship-copy /etc/pchat-dr/estates /app/examples/.sim \
 && chown node:node /mnt/pchat-logship /mnt/dc2-logship-copy /app/examples/.sim \
 && printf '#!/bin/sh\nexec node /app/dist/client/cli.js "$@"\n' > /usr/local/bin/pchat-dr \
 && chmod 755 /usr/local/bin/pchat-dr

# The worker serves the topology files mounted here (docker run -v "$PWD/estates:/etc/pchat-dr/estates:ro"); with
# none, it refuses to start (exit 2) and says so.
ENV PCHAT_DR_ESTATES=/etc/pchat-dr/estates

# Not root: the worker, the CLI and the simulator need no privilege (node is uid 1000, the owner of the volumes).
USER node
# The worker's Prometheus endpoint (PCHAT_DR_METRICS_ADDRESS; in a container set it to 0.0.0.0:9464).
EXPOSE 9464
# Healthy while Temporal sees this container's worker poll its task queue (pchat-dr health, docs/operations.md): a
# live process that lost Temporal, or stopped polling, is unhealthy. It reads the same TEMPORAL_* and
# PCHAT_DR_TASK_QUEUE settings as the worker. A worker long-polls about once a minute.
HEALTHCHECK --interval=30s --timeout=20s --start-period=60s --retries=3 CMD ["pchat-dr", "health", "--this-host"]
# On SIGTERM the worker stops polling and lets running activities finish for PCHAT_DR_SHUTDOWN_GRACE (5m by
# default): give the container longer than that before it is killed (docker-compose.yml: stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["pchat-dr", "worker"]
