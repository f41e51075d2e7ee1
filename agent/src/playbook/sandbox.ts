import { createRequire } from 'node:module';
import type * as Wasmoon from 'wasmoon';
import { boundAttributes } from './attribute-limits.js';
import { forbiddenGlobals, preludeSource } from './prelude.js';
import { limitMessage, maxLogMessageChars, maxLogRecordsPerRun, nowMillis, type HostReply, type SandboxJob, type SandboxOutcome } from './sandbox-job.js';
import type { PlaybookLimitName, PlaybookLimits } from './types.js';

export type { HostReply, SandboxJob, SandboxOutcome };

// wasmoon is a 150 KB CommonJS bundle: `require` loads it several times faster than an ESM
// `import`, which first scans the whole source for its export names. It dominates a worker's start.
const { LuaFactory, LuaEventMasks, LuaLibraries, LuaReturn, LuaType } = createRequire(import.meta.url)('wasmoon') as typeof Wasmoon;
type LuaEngine = Wasmoon.LuaEngine;
type LuaReturn = Wasmoon.LuaReturn;

/** Instructions between two checks of the limits (the count hook's period). */
const hookPeriodInstructions = 1000;
/** Nesting depth of a value passed to the host (a Lua table converts with its cycles: this ends them). */
const maxHostValueDepth = 32;
/** Characters of strings and keys (8 per other value) the values of one host call may carry. */
const maxHostValueChars = 16 * 1024 * 1024;

/** The bridge from the sandbox to the host (provided by the worker thread). */
export interface SandboxBridge {
  /** Synchronous call answered by the host (blocks the Lua thread, never the host). */
  call(method: string, args: unknown[], deadlineMillis: number): HostReply;
  /** Fire-and-forget message (logs, metrics). */
  notify(method: string, args: unknown[]): void;
}

/** The run currently executing in this thread (one at a time per thread). */
interface ActiveRun {
  limits: PlaybookLimits;
  deadlineMillis: number;
  instructions: number;
  stop?: PlaybookLimitName;
  forbidden?: string;
  table?: unknown;
  logs: number;
  droppedLogs: number;
}

/**
 * Runs playbooks in fresh, locked-down Lua states. Lives in a worker thread:
 * a C function that never returns (a pathological pattern match) or a host
 * call that hangs blocks only this thread, which the host then terminates.
 */
export class Sandbox {
  private readonly factory = new LuaFactory();
  private readonly bridge: SandboxBridge;
  private active: ActiveRun | undefined;
  private hookPointer = 0;
  private spare: LuaEngine | undefined;
  private readonly sleepCell = new Int32Array(new SharedArrayBuffer(4));

  constructor(bridge: SandboxBridge) {
    this.bridge = bridge;
  }

  /** Compiles the Lua VM and prepares a spare engine, so the first job starts warm. */
  async warmUp(): Promise<void> {
    this.spare ??= await this.createEngine();
  }

  async execute(job: SandboxJob): Promise<SandboxOutcome> {
    const engine = this.spare ?? (await this.createEngine());
    this.spare = undefined;
    try {
      return this.executeIn(engine, job);
    } finally {
      engine.global.close();
    }
  }

  /** Prepares the next spare engine; call when idle. */
  async prepareSpare(): Promise<void> {
    this.spare ??= await this.createEngine();
  }

  private async createEngine(): Promise<LuaEngine> {
    const engine = await this.factory.createEngine({
      openStandardLibs: false,
      // Proxies would let Lua reach JS objects' properties (and from there the Function constructor).
      enableProxy: false,
      injectObjects: false,
      traceAllocations: true,
    });
    const global = engine.global;
    const lua = global.lua;
    for (const library of [LuaLibraries.Base, LuaLibraries.Coroutine, LuaLibraries.Table, LuaLibraries.String, LuaLibraries.Math]) {
      global.loadLibrary(library);
    }
    // wasmoon 1.16's loadLibrary(UTF8) opens `string` again: open utf8 by hand.
    lua.luaopen_utf8(global.address);
    lua.lua_setglobal(global.address, 'utf8');
    if (this.hookPointer === 0) this.hookPointer = lua.module.addFunction((L: number) => this.onHook(L), 'vii');

    this.loadChunk(engine, preludeSource, '=sloth-prelude');
    global.pushValue(this.bridgeTable());
    const status = pcall(engine, 1, 0);
    if (status !== LuaReturn.Ok) {
      const message = this.errorText(engine);
      global.close();
      throw new Error(`sandbox prelude failed: ${message}`);
    }
    return engine;
  }

  private bridgeTable(): Record<string, unknown> {
    const guard = <T extends unknown[]>(fn: (...args: T) => unknown) => {
      return (...args: T): unknown => {
        try {
          return fn(...args);
        } catch (error) {
          // Infinity is how the Lua VM unwinds (longjmp) through JS frames: let it pass.
          if (error === Infinity) throw error;
          return { ok: false, err: error instanceof Error ? error.message : String(error) };
        }
      };
    };
    return {
      forbiddenNames: [...forbiddenGlobals],
      check: (err: unknown) => {
        const run = this.active;
        if (run === undefined) return undefined;
        if (run.stop === undefined && err === 'not enough memory') run.stop = 'memory';
        return run.stop === undefined ? undefined : limitMessage(run.stop, run.limits);
      },
      forbidden: (what: string) => {
        if (this.active !== undefined) this.active.forbidden ??= what;
      },
      notify: guard((method: string, ...args: unknown[]) => {
        const run = this.active;
        if (run !== undefined) {
          run.logs += 1;
          if (run.logs > maxLogRecordsPerRun) {
            run.droppedLogs += 1;
            return { ok: true };
          }
        }
        // Bounded here, before the record is copied to the host: [level, message, attrs].
        const [level, message, attrs] = args;
        this.bridge.notify(method, [typeof level === 'string' ? level : 'info', logMessage(message), boundAttributes(attrs).attrs]);
        return { ok: true };
      }),
      call: guard((method: string, ...args: unknown[]) => this.hostCall(method, args)),
    };
  }

  private hostCall(method: string, rawArgs: unknown[]): unknown {
    const run = this.active;
    if (run === undefined) return { ok: false, err: 'no active run' };
    const args = toPlain(rawArgs);
    switch (method) {
      case 'json.encode': {
        // toPlain gave plain data (no functions, so no toJSON to call back into Lua) with
        // sorted keys: Lua tables have no key order, and the same table always encodes the same.
        return { ok: true, value: JSON.stringify(args[0] ?? null) };
      }
      case 'json.decode': {
        if (typeof args[0] !== 'string') return { ok: false, err: 'json.decode expects a string' };
        try {
          return { ok: true, value: stripNulls(JSON.parse(args[0])) };
        } catch (error) {
          return { ok: false, err: `json.decode: ${(error as Error).message}` };
        }
      }
      case 'sleep': {
        const ms = args[0];
        if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return { ok: false, err: 'sleep expects a number of milliseconds >= 0' };
        const remaining = run.deadlineMillis - nowMillis();
        Atomics.wait(this.sleepCell, 0, 0, Math.max(0, Math.min(ms, remaining)));
        if (ms > remaining) {
          run.stop = 'timeout';
          return { ok: false, err: limitMessage('timeout', run.limits), stop: 'timeout' };
        }
        return { ok: true };
      }
      default: {
        const reply = this.bridge.call(method, args, run.deadlineMillis);
        if (!reply.ok && reply.stop !== undefined) {
          run.stop = reply.stop;
          return { ok: false, err: limitMessage(reply.stop, run.limits), stop: reply.stop };
        }
        if (!reply.ok && reply.forbidden === true) run.forbidden ??= method;
        return reply.ok ? { ok: true, value: stripNulls(reply.value) } : reply;
      }
    }
  }

  private onHook(L: number): void {
    const run = this.active;
    if (run === undefined) return;
    run.instructions += hookPeriodInstructions;
    if (run.stop === undefined) {
      if (run.instructions > run.limits.maxInstructions) run.stop = 'instructions';
      else if (nowMillis() > run.deadlineMillis) run.stop = 'timeout';
    }
    if (run.stop !== undefined && this.engineLua !== undefined) {
      this.engineLua.lua_pushstring(L, limitMessage(run.stop, run.limits));
      this.engineLua.lua_error(L);
    }
  }

  private engineLua: LuaEngine['global']['lua'] | undefined;

  private loadChunk(engine: LuaEngine, source: string, chunkName: string): LuaReturn {
    const lua = engine.global.lua;
    const size = lua.module.lengthBytesUTF8(source);
    const pointer = lua.module._malloc(size + 1);
    try {
      lua.module.stringToUTF8(source, pointer, size + 1);
      // Mode 't': text only, so a precompiled (bytecode) chunk is refused.
      return lua.luaL_loadbufferx(engine.global.address, pointer, size, chunkName, 't');
    } finally {
      lua.module._free(pointer);
    }
  }

  /** The error value on top of the stack as text, without running any metamethod. */
  private errorText(engine: LuaEngine): string {
    const lua = engine.global.lua;
    const L = engine.global.address;
    const type = lua.lua_type(L, -1);
    if (type === LuaType.String || type === LuaType.Number) return lua.lua_tolstring(L, -1, null);
    if (type === LuaType.Nil || type === LuaType.None) return 'nil';
    return `(an error value of type ${lua.lua_typename(L, type)})`;
  }

  private executeIn(engine: LuaEngine, job: SandboxJob): SandboxOutcome {
    const global = engine.global;
    const lua = global.lua;
    const L = global.address;
    const chunkStartMillis = nowMillis();
    const run: ActiveRun = { limits: job.limits, deadlineMillis: chunkStartMillis + job.limits.timeoutMillis, instructions: 0, logs: 0, droppedLogs: 0 };
    const finish = (outcome: Omit<SandboxOutcome, 'chunkStartMillis' | 'instructions' | 'droppedLogs'>): SandboxOutcome => ({
      ...outcome,
      chunkStartMillis,
      instructions: run.instructions,
      droppedLogs: run.droppedLogs,
    });
    const failure = (status: SandboxOutcome['status'], message: string): SandboxOutcome => {
      if (run.stop !== undefined) return finish({ status: 'limit', limit: run.stop, message: limitMessage(run.stop, run.limits) });
      if (run.forbidden !== undefined) return finish({ status: 'forbidden', forbidden: run.forbidden, message });
      return finish({ status, message });
    };

    this.active = run;
    this.engineLua = lua;
    global.setMemoryMax(global.getMemoryUsed() + job.limits.maxMemoryBytes);
    lua.lua_sethook(L, this.hookPointer, LuaEventMasks.Count, hookPeriodInstructions);
    try {
      const top = lua.lua_gettop(L);
      const loadStatus = this.loadChunk(engine, job.source, `@${job.fileName}`);
      if (loadStatus !== LuaReturn.Ok) {
        const text = this.errorText(engine);
        if (loadStatus === LuaReturn.ErrorMem) {
          run.stop = 'memory';
          return failure('limit', text);
        }
        return finish({ status: 'syntax', message: text.startsWith('attempt to load a binary chunk') ? `${job.fileName}: precompiled (bytecode) chunks are not allowed` : text });
      }
      let status = pcall(engine, 0, 1);
      if (status !== LuaReturn.Ok) return this.failed(engine, run, status, failure);
      if (lua.lua_type(L, -1) !== LuaType.Table) {
        return finish({ status: 'runtime', message: `${job.fileName}: the playbook must return a table (got ${lua.lua_typename(L, lua.lua_type(L, -1))})` });
      }
      if (job.kind === 'describe') {
        // Convert inside a protected call: a key's __tostring is playbook code.
        global.pushValue((table: unknown) => {
          run.table = describeValue(table);
        });
        lua.lua_rotate(L, -2, 1);
        status = pcall(engine, 1, 0);
        if (status !== LuaReturn.Ok) return this.failed(engine, run, status, failure);
        return finish({ status: 'ok', message: '', table: run.table });
      }
      if (lua.lua_getfield(L, -1, 'run') !== LuaType.Function) {
        return finish({ status: 'runtime', message: `${job.fileName}: the playbook table has no run(ctx) function` });
      }
      global.pushValue(stripNulls(job.ctx ?? {}));
      status = pcall(engine, 1, 2);
      if (status !== LuaReturn.Ok) return this.failed(engine, run, status, failure);
      const okType = lua.lua_type(L, -2);
      const ok = okType === LuaType.Nil || lua.lua_toboolean(L, -2) !== 0;
      const messageType = lua.lua_type(L, -1);
      const message = messageType === LuaType.String || messageType === LuaType.Number ? lua.lua_tolstring(L, -1, null) : '';
      lua.lua_settop(L, top);
      if (!ok) return finish({ status: 'failed', message });
      return finish({ status: 'ok', message });
    } finally {
      lua.lua_sethook(L, 0, 0, 0);
      this.active = undefined;
    }
  }

  private failed(
    engine: LuaEngine,
    run: ActiveRun,
    status: LuaReturn,
    failure: (status: SandboxOutcome['status'], message: string) => SandboxOutcome,
  ): SandboxOutcome {
    const text = this.errorText(engine);
    if (status === LuaReturn.ErrorMem && run.stop === undefined) run.stop = 'memory';
    return failure('runtime', text);
  }
}

function pcall(engine: LuaEngine, argCount: number, resultCount: number): LuaReturn {
  return engine.global.lua.lua_pcallk(engine.global.address, argCount, resultCount, 0, 0, null);
}

/** Lua tables arrive as JS objects; functions (not cloneable) become markers. */
function describeValue(value: unknown, depth = 0): unknown {
  if (depth > 32) return undefined;
  if (typeof value === 'function') return { $function: true };
  if (Array.isArray(value)) return value.map((v) => describeValue(v, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = describeValue(v, depth + 1);
    return out;
  }
  return value;
}

/** Cuts the log message (converted from Lua) to {@link maxLogMessageChars}; a table becomes its bounded JSON. */
function logMessage(message: unknown): string {
  let text: string;
  if (typeof message === 'string') text = message;
  else if (typeof message === 'number' || typeof message === 'boolean') text = String(message);
  else if (typeof message === 'object' && message !== null) text = JSON.stringify(Array.isArray(message) ? boundAttributes({ message }).attrs.message : boundAttributes(message).attrs);
  else text = 'null';
  return text.length > maxLogMessageChars ? `${text.slice(0, maxLogMessageChars)}… (truncated)` : text;
}

interface PlainWalk {
  chars: number;
  /** Tables on the path from the root: a table met again inside itself is a cycle. */
  path: Set<object>;
}

function plainValue(value: unknown, depth: number, walk: PlainWalk, where: string): unknown {
  switch (typeof value) {
    case 'string':
      walk.chars += value.length;
      break;
    case 'number':
    case 'boolean':
      walk.chars += 8;
      return value;
    case 'function':
      throw new Error(`functions cannot be passed to the host (${where})`);
    case 'object': {
      if (value === null) return undefined;
      if (depth >= maxHostValueDepth) throw new Error(`a table passed to the host may nest at most ${maxHostValueDepth} levels deep (${where})`);
      if (walk.path.has(value)) throw new Error(`a table passed to the host must be plain data (no cycles) (${where})`);
      walk.path.add(value);
      let out: unknown;
      if (Array.isArray(value)) {
        out = value.map((v: unknown, i) => plainValue(v, depth + 1, walk, `${where}[${i + 1}]`) ?? null);
      } else {
        const keys = Object.keys(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const table: Record<string, unknown> = {};
        for (const key of keys) {
          walk.chars += key.length;
          const v = plainValue((value as Record<string, unknown>)[key], depth + 1, walk, `${where}.${key}`);
          if (v !== undefined) table[key] = v;
        }
        out = table;
      }
      walk.path.delete(value);
      if (walk.chars > maxHostValueChars) throw new Error(`a value passed to the host may hold at most ${maxHostValueChars} characters`);
      return out;
    }
    default:
      return undefined;
  }
  if (walk.chars > maxHostValueChars) throw new Error(`a value passed to the host may hold at most ${maxHostValueChars} characters`);
  return value;
}

/**
 * Copies values from Lua into plain JSON data with sorted keys. A walk of our own, never
 * JSON.stringify on the converted tables: a table's `toJSON` function would be called from
 * JS, outside the hook that enforces the run's limits. Functions, cycles, nesting deeper
 * than {@link maxHostValueDepth} and more than {@link maxHostValueChars} are refused.
 */
function toPlain(args: unknown[]): unknown[] {
  const walk: PlainWalk = { chars: 0, path: new Set() };
  return args.map((arg, i) => plainValue(arg, 0, walk, `argument ${i + 1}`));
}

/** Lua has no null: drop nulls so host data converts to tables. */
export function stripNulls(value: unknown): unknown {
  if (value === null) return undefined;
  if (Array.isArray(value)) return value.map(stripNulls);
  if (typeof value === 'object' && value !== undefined) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== null) out[k] = stripNulls(v);
    }
    return out;
  }
  return value;
}
