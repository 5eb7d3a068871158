# Multi-stage on a glibc base (Debian bookworm): better-sqlite3 compiles (or fetches its prebuilt
# binary) in the build stage, and the KurrentDB client's native bridge is built for glibc.
# Two targets from one build: `key-service` (the default, last) and `gateway`.
FROM node:24-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# The README's install command.
RUN npm ci
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps apps
COPY libs libs
COPY bench bench
# What `npm start` and `npm test` run first.
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim AS runtime
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./

FROM runtime AS gateway
ENV GATEWAY_HOST=0.0.0.0 GATEWAY_PORT=8081 GATEWAY_STATE_DIR=/state
RUN mkdir -p /state && chown node:node /state
USER node
VOLUME /state
EXPOSE 8081
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD node -e "fetch('http://127.0.0.1:8081/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
CMD ["node", "dist/apps/gateway/src/main.js"]

FROM runtime AS key-service
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 GRPC_PORT=50051 DATA_DIR=/data
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 8080 50051
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD node -e "fetch('http://127.0.0.1:8080/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
CMD ["node", "dist/apps/key-service/src/main.js"]
