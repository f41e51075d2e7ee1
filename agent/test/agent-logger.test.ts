import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAgentLogger, OtelLogBridge, type LogRecordSink } from '../src/agent-logger.js';
import { RotatingLogFile } from '../src/log-file.js';

describe('agent logger', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sloth-agent-logger-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("redacts secrets with core's one list, in its file and in the OTel log records it exports", async () => {
    const file = new RotatingLogFile({ path: join(dir, 'agent.log'), maxBytes: 1_000_000, maxFiles: 1 });
    const records: Array<{ body: string; attributes: Record<string, string | number | boolean> }> = [];
    const sink: LogRecordSink = { emitLog: (_severity, body, attributes) => records.push({ body, attributes }) };
    const bridge = new OtelLogBridge();
    bridge.sink = sink;
    const logger = createAgentLogger({ level: 'info', stdout: false, file, bridge });
    logger.info(
      {
        token: 'secret-agent-token-1',
        collector: { url: 'http://collector:4318', token: 'secret-agent-token-2', headers: { authorization: 'Bearer secret-3' } },
        playbook: { webhookUrl: 'https://hooks.example/secret-4', secrets: ['secret-5'] },
        password: 'secret-6',
      },
      'agent configured',
    );
    logger.flush();
    file.close();
    const text = await readFile(join(dir, 'agent.log'), 'utf8');
    expect(text).toContain('"msg":"agent configured"');
    expect(text).toContain('http://collector:4318');
    expect(text.match(/secret-/g)).toBeNull();
    expect(text.split('[redacted]').length - 1).toBe(6);
    expect(records).toHaveLength(1);
    const exported = JSON.stringify(records[0]);
    expect(records[0]?.body).toBe('agent configured');
    expect(exported).toContain('http://collector:4318');
    expect(exported.match(/secret-/g)).toBeNull();
    expect(exported.split('[redacted]').length - 1).toBe(6);
  });
});
