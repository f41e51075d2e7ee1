import { Agent } from './agent.js';
import { loadAgentConfig, parseLabelFlags } from './config.js';
import { shutdownPlaybookRuntime } from './playbook/api.js';

/** Flags of `sloth agent` (and of the lean `sloth-agent` entry point). */
export interface AgentFlags {
  readonly config?: string | undefined;
  readonly dataDir?: string | undefined;
  readonly logLevel?: string | undefined;
  readonly collector?: string | undefined;
  readonly token?: string | undefined;
  readonly insecureNoAuth?: boolean | undefined;
  readonly interval?: number | undefined;
  readonly metricsPort?: number | undefined;
  readonly label?: readonly string[] | undefined;
  readonly id?: string | undefined;
  readonly stateDir?: string | undefined;
  readonly redisUrl?: string | undefined;
  readonly redisPrefix?: string | undefined;
  readonly allowExec?: readonly string[] | undefined;
  readonly allowHttp?: readonly string[] | undefined;
  readonly allowFs?: readonly string[] | undefined;
}

/** Loads the config from the flags, runs the agent until SIGTERM/SIGINT, then shuts it down. */
export async function runAgent(flags: AgentFlags): Promise<void> {
  const config = loadAgentConfig({
    file: flags.config,
    flags: {
      dataDir: flags.dataDir,
      logLevel: flags.logLevel,
      collector: flags.collector,
      token: flags.token,
      insecureNoAuth: flags.insecureNoAuth,
      interval: flags.interval,
      metricsPort: flags.metricsPort,
      labels: parseLabelFlags(flags.label),
      id: flags.id,
      stateDir: flags.stateDir,
      redisUrl: flags.redisUrl,
      redisPrefix: flags.redisPrefix,
      allowExec: flags.allowExec,
      allowHttp: flags.allowHttp,
      allowFs: flags.allowFs,
    },
  });
  const agent = new Agent(config);
  await agent.start();
  // The SDK's timers are unref'd: this handle keeps the process alive until a signal.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      clearInterval(keepAlive);
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await agent.shutdown();
  // Remediations run on the process-wide Lua runtime: stop its worker threads here rather than
  // leave them to process teardown, which waits for the threads' background wasm compiles.
  await shutdownPlaybookRuntime();
}
