# hyperlane-ts in a container (see docs/deploy.md): compiles the TypeScript in a build stage,
# then runs the showcase (examples/showcase.ts) on production dependencies only, as the
# unprivileged `node` user. For your own application, change the COPY lines and CMD.
#
#   docker build -t hyperlane-showcase .
#   docker run --rm -p 8080:8080 hyperlane-showcase
#
# Configuration comes from the environment (PORT, HOST, HL_*, CONFIG_FILE, HL_AUTH_SECRET):
#   docker run --rm -p 9000:9000 -e PORT=9000 -e HL_CORS_ORIGINS=https://app.example.com ...

# ---- build: all dependencies, TypeScript → JavaScript ----------------------------------------
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would compile before the sources are here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json tsconfig.test.json ./
COPY src ./src
COPY examples ./examples
# tsconfig.test.json also compiles examples/ (tsconfig.build.json is src/ only, for the package).
RUN npx tsc -p tsconfig.test.json

# ---- runtime: production dependencies and the compiled JavaScript only -----------------------
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# No dev dependencies, and no install scripts (`prepare` needs TypeScript, which is not here).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/.build/src ./.build/src
COPY --from=build /app/.build/examples ./.build/examples

# The official image's unprivileged user (uid 1000); nothing in /app is writable by it.
USER node

# Inside a container the server must listen on every interface, not only loopback.
ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080

# The slim image has no curl or wget: Node's fetch asks /health (the monitoring example's route).
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# `docker stop` sends SIGTERM: the showcase closes gracefully (in-flight requests finish, up to
# 3 s) before Docker's 10 s grace period ends. Node is PID 1 here and handles SIGTERM itself.
STOPSIGNAL SIGTERM
CMD ["node", ".build/examples/showcase.js"]
