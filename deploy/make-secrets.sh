#!/bin/sh
# Creates the secrets the compose stack reads (deploy/secrets/, mode 0600,
# never committed). Run once before `docker compose up`; existing files are kept.
# The containers run as uid 1000 (the image's `node` user): if your uid is not
# 1000, run `sudo chown 1000 deploy/secrets/*` afterwards.
set -eu
dir=$(dirname "$0")/secrets
mkdir -p "$dir"
umask 077
if [ ! -f "$dir/agent-token" ]; then
  openssl rand -hex 24 > "$dir/agent-token"
fi
agent=$(cat "$dir/agent-token")
# The collector accepts the agents' token for agent ids agent-* only, and one admin token for API clients.
if [ ! -f "$dir/collector-tokens" ]; then
  printf '%s:agent-*\n' "$agent" > "$dir/collector-tokens"
fi
if [ ! -f "$dir/api-token" ]; then
  openssl rand -hex 24 > "$dir/api-token"
  printf '%s:api\n' "$(cat "$dir/api-token")" > "$dir/api-tokens"
fi
if [ ! -f "$dir/grafana-admin-password" ]; then
  openssl rand -hex 16 > "$dir/grafana-admin-password"
fi
chmod 600 "$dir"/*-token "$dir"/*-tokens "$dir/grafana-admin-password"
echo "secrets in $dir: agent-token, collector-tokens, api-token(s), grafana-admin-password"
