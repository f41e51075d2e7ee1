# Sloth in one image: `sloth up` by default; any role with `sloth <role>`.
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ redis-server \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/sloth
COPY . .
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund || true
ENV SLOTH_DATA_DIR=/var/lib/sloth
VOLUME /var/lib/sloth
EXPOSE 4318 9464 9465 8080
ENTRYPOINT ["node", "cli/bin/sloth.js"]
CMD ["up"]
