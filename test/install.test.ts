import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

/**
 * `npm install` on any Node the repository says it supports must not warn
 * EBADENGINE: every locked package (dev tools included, since a clone
 * installs them) accepts the lowest Node of the root `engines` range, and
 * the README and the Docker image say the same.
 */

// semver comes with the runtime dependencies (fastify, bullmq); it has no types of its own here.
const semver = createRequire(import.meta.url)('semver') as {
  satisfies(version: string, range: string): boolean;
  minVersion(range: string): { version: string } | null;
};
const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('install on the supported Node versions', () => {
  const range = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
  const lowest = semver.minVersion(range)?.version ?? '';

  it('every locked package accepts the lowest supported Node and this one', () => {
    expect(lowest).toMatch(/^20\.\d+\.\d+$/);
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { engines?: { node?: unknown } }> };
    const refused: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const wants = entry.engines?.node;
      if (typeof wants !== 'string' || path === '') continue;
      for (const node of [lowest, process.versions.node]) if (!semver.satisfies(node, wants)) refused.push(`${path} wants node ${wants}, refuses ${node}`);
    }
    expect(refused).toEqual([]);
  });

  it('the README and the Docker image name a Node inside that range', () => {
    expect(read('README.md')).toContain(`Requires Node.js ≥ ${lowest.replace(/\.0$/, '')}`);
    const images = [...read('Dockerfile').matchAll(/^FROM node:(\d+\.\d+\.\d+)/gm)].map((m) => m[1] as string);
    expect(images.length).toBeGreaterThan(0);
    for (const version of images) expect(semver.satisfies(version, range), version).toBe(true);
  });
});
