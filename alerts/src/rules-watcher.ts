import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from '@sloth/core';
import { loadAlertsFile, type AlertsFile } from './alerts-file.js';

/**
 * Reloads the alerts file when it changes (fs.watch on its directory, since
 * editors replace files, with a debounce). A file that fails validation is
 * not applied: the previous good rules stay, and the problems are logged and
 * kept for the API.
 */
export class RulesWatcher {
  private readonly path: string;
  private readonly apply: (file: AlertsFile) => void;
  private readonly logger: Logger;
  private readonly debounceMillis: number;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Why the last reload was refused, until a good one. */
  lastError: string | undefined;
  reloads = 0;

  constructor(options: { path: string; apply: (file: AlertsFile) => void; logger: Logger; debounceMillis?: number }) {
    this.path = resolve(options.path);
    this.apply = options.apply;
    this.logger = options.logger;
    this.debounceMillis = options.debounceMillis ?? 250;
  }

  start(): void {
    const name = basename(this.path);
    this.watcher = watch(dirname(this.path), (_event, file) => {
      if (file !== null && file !== name) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload(), this.debounceMillis);
    });
    this.watcher.on('error', (error) => this.logger.warn({ err: error }, 'watching the alerts file failed; edits need a restart'));
  }

  /** Loads the file now; true when the new rules were applied. */
  reload(): boolean {
    let file: AlertsFile;
    try {
      file = loadAlertsFile(this.path);
    } catch (error) {
      this.lastError = (error as Error).message;
      this.logger.error({ path: this.path, problem: this.lastError }, 'alerts file not reloaded: it is invalid; the previous rules stay in force');
      return false;
    }
    this.lastError = undefined;
    this.reloads += 1;
    this.apply(file);
    this.logger.info({ path: this.path, rules: file.rules.length, receivers: file.receivers.size }, 'alerts file reloaded');
    return true;
  }

  shutdown(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
  }
}
