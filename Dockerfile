# Sloth in one image; every role is `sloth <role>` (the compose stack runs one
# role per container). Two stages: the build stage compiles better-sqlite3 and
# the TypeScript; the runtime stage has neither compilers nor dev dependencies
# and runs as the unprivileged `node` user.
FROM node:20.20.2-bookworm-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/sloth
COPY . .
# npm ci runs the root `prepare` script (tsc -b): a failed build fails the image.
RUN npm ci --no-audit --no-fund
RUN npm prune --omit=dev --no-audit --no-fund \
    && rm -rf test bench docs deploy */test

FROM node:20.20.2-bookworm-slim
ENV NODE_ENV=production \
    SLOTH_DATA_DIR=/var/lib/sloth
WORKDIR /opt/sloth
COPY --from=build /opt/sloth /opt/sloth
RUN mkdir -p /var/lib/sloth && chown node:node /var/lib/sloth
USER node
VOLUME /var/lib/sloth
EXPOSE 4318 9464 9465 9466 8080 8081
ENTRYPOINT ["node", "cli/bin/sloth.js"]
# `sloth up` needs a Redis: pass --redis-url (or REDIS_URL); the image has no redis-server.
CMD ["up"]
