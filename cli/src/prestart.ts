import { setFlagsFromString } from 'node:v8';

/**
 * For a process that runs a few playbooks and exits: WebAssembly stays on V8's
 * baseline compiler. The optimizing tier compiles hot Lua VM functions on
 * background threads, and a worker thread's exit waits for those compiles
 * (hundreds of ms on a busy machine) for runs that last milliseconds. The sandbox's
 * limits do not depend on the compiler tier. Must run before the VM is compiled.
 */
export function useBaselineWasm(): void {
  setFlagsFromString('--liftoff-only');
}

const luaCommands = new Set(['run', 'test', 'lint']);

/**
 * Work a command can begin before the command tree loads (most of the CLI's
 * start): `sloth playbook run|test|lint` starts its Lua worker thread now,
 * so the thread's start overlaps the loading of the rest of the CLI.
 */
export function prestart(args: readonly string[]): void {
  if (args[0] !== 'playbook' || !luaCommands.has(args[1] ?? '') || args.includes('--help') || args.includes('-h')) return;
  useBaselineWasm();
  // A failure here surfaces again, with its message, when the command starts its runtime.
  void import('@sloth/agent/playbook/worker-thread').then(
    (thread) => thread.prestartPlaybookWorker(),
    () => undefined,
  );
}
