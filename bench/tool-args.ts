/**
 * The command line of every bench tool: `--help` prints the tool's usage and exits 0; an unknown flag, a
 * stray argument or a bad value prints the problem and the usage and exits 2, never a stack trace. All
 * of it happens before a tool starts any work (no process, no port, no file).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
type WithHelp<O extends Options> = O & { help: { type: 'boolean' } };
type Values<O extends Options> = ReturnType<typeof parseArgs<{ options: WithHelp<O> }>>['values'];

/** A flag with a bad value, found where exiting at once would leave work behind: {@link BenchTool.run} prints it with the usage (exit 2). */
export class ToolUsageError extends Error {}

/** One bench tool's name and usage (what it does, each option with its default). */
export class BenchTool {
  constructor(
    readonly name: string,
    readonly usage: string,
  ) {}

  /** The tool's flags (no positional arguments); `--help` or a bad flag ends the process here. */
  args<const O extends Options>(options: O): Values<O> {
    return this.parse(options, false).values;
  }

  /** {@link args} for a tool that also takes positional arguments (files, a JSON argument). */
  argsAndPositionals<const O extends Options>(options: O): { values: Values<O>; positionals: string[] } {
    return this.parse(options, true);
  }

  /** Prints `name: message` and the usage on stderr and exits 2. */
  fail(message: string): never {
    process.stderr.write(`${this.name}: ${message}\n${this.usage}\n`);
    process.exit(2);
  }

  /** A numeric flag's value, or {@link fail} naming the flag, the limits and what it got. */
  number(flag: string, text: string | undefined, limits: { min?: number; max?: number; integer?: boolean } = {}): number {
    const value = text === undefined || text.trim() === '' ? Number.NaN : Number(text);
    const { min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY, integer = false } = limits;
    if (Number.isFinite(value) && value >= min && value <= max && (!integer || Number.isInteger(value))) return value;
    const bounds = [Number.isFinite(min) ? `≥ ${min}` : '', Number.isFinite(max) ? `≤ ${max}` : ''].filter((b) => b !== '').join(' and ');
    return this.fail(`--${flag} must be ${integer ? 'an integer' : 'a number'}${bounds === '' ? '' : ` ${bounds}`}, got ${JSON.stringify(text)}`);
  }

  /** What `read` returns, or {@link fail} with `--flag: ` and what it threw (for a value a library parses, such as `--tuning JSON`). */
  check<T>(flag: string, read: () => T): T {
    try {
      return read();
    } catch (error) {
      return this.fail(`--${flag}: ${(error as Error).message}`);
    }
  }

  /** Runs the tool's main; a {@link ToolUsageError} ends it with its message and the usage (exit 2). */
  async run(main: () => Promise<void>): Promise<void> {
    try {
      await main();
    } catch (error) {
      if (!(error instanceof ToolUsageError)) throw error;
      this.fail(error.message);
    }
  }

  private parse<O extends Options>(options: O, allowPositionals: boolean): { values: Values<O>; positionals: string[] } {
    let parsed: { values: Values<O>; positionals: string[] };
    try {
      const withHelp: WithHelp<O> = { ...options, help: { type: 'boolean' } };
      parsed = parseArgs<{ options: WithHelp<O>; allowPositionals: boolean }>({ options: withHelp, allowPositionals });
    } catch (error) {
      this.fail((error as Error).message);
    }
    if ((parsed.values as { help?: boolean }).help === true) {
      process.stdout.write(`${this.usage}\n`);
      process.exit(0);
    }
    return parsed;
  }
}
