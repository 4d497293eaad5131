# iamwarden as a service: `docker build -t iamwarden .` then
#   docker run -p 9464:9464 -v $PWD/iamwarden.yaml:/etc/iamwarden/iamwarden.yaml:ro iamwarden
# The image runs `iamwarden serve` as an unprivileged user; the config's serve.listen must bind
# 0.0.0.0 (and set serve.token) to be reachable from outside the container.

# --- build: compile TypeScript and the native SQLite module --------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /src
# better-sqlite3 builds from source when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# --- runtime: the compiled CLI, production dependencies, no compilers ----------------------------
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json README.md ./
COPY policy ./policy
COPY examples ./examples
# The SQLite store (when used) lives in /var/lib/iamwarden, owned by the service's user.
RUN groupadd --system iamwarden && useradd --system --gid iamwarden --home-dir /var/lib/iamwarden iamwarden \
  && mkdir -p /var/lib/iamwarden /etc/iamwarden && chown iamwarden:iamwarden /var/lib/iamwarden
USER iamwarden
WORKDIR /var/lib/iamwarden
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD node -e "fetch('http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["serve", "--config", "/etc/iamwarden/iamwarden.yaml"]
