import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from '@sloth/core';
import { loadAlertsFile, type AlertsFile } from './alerts-file.js';

/**
 * Reloads the alerts file when it changes (fs.watch on its directory, since
 * editors replace files, with a debounce), and when a secret file it names
 * (`webhook_url_file`…) changes, so a rotated secret applies without an edit.
 * A file that fails validation is not applied: the previous good rules stay,
 * and the problems are logged and kept for the API.
 */
export class RulesWatcher {
  private readonly path: string;
  private readonly apply: (file: AlertsFile) => void;
  private readonly logger: Logger;
  private readonly debounceMillis: number;
  private watcher: FSWatcher | undefined;
  /** Directories of secret files (other than the alerts file's), each watched for the names it holds. */
  private readonly secretWatchers = new Map<string, FSWatcher>();
  private secretNames = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;
  /** Why the last reload was refused, until a good one. */
  lastError: string | undefined;
  reloads = 0;

  private readonly initialSecretFiles: readonly string[];

  constructor(options: { path: string; apply: (file: AlertsFile) => void; logger: Logger; debounceMillis?: number; secretFiles?: readonly string[] }) {
    this.path = resolve(options.path);
    this.apply = options.apply;
    this.logger = options.logger;
    this.debounceMillis = options.debounceMillis ?? 250;
    this.initialSecretFiles = options.secretFiles ?? [];
  }

  start(): void {
    const name = basename(this.path);
    const dir = dirname(this.path);
    this.watcher = watch(dir, (_event, file) => {
      if (file !== null && file !== name && !this.isSecretChange(dir, file)) return;
      this.schedule();
    });
    this.watcher.on('error', (error) => this.logger.warn({ err: error }, 'watching the alerts file failed; edits need a restart'));
    this.watchSecretFiles(this.initialSecretFiles);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), this.debounceMillis);
  }

  /** A secret file's own name, or a `..`-name: Kubernetes swaps a mounted Secret's `..data` link, not the file. */
  private isSecretChange(dir: string, file: string): boolean {
    const names = this.secretNames.get(dir);
    return names !== undefined && (names.has(file) || file.startsWith('..'));
  }

  /** Watches the directories of the secret files the last good load read; stops watching the others. */
  private watchSecretFiles(paths: readonly string[]): void {
    const wanted = new Map<string, Set<string>>();
    for (const path of paths) {
      const names = wanted.get(dirname(path)) ?? new Set<string>();
      names.add(basename(path));
      wanted.set(dirname(path), names);
    }
    this.secretNames = wanted;
    for (const [dir, watcher] of this.secretWatchers) {
      if (wanted.has(dir)) continue;
      watcher.close();
      this.secretWatchers.delete(dir);
    }
    for (const dir of wanted.keys()) {
      if (dir === dirname(this.path) || this.secretWatchers.has(dir)) continue;
      try {
        const watcher = watch(dir, (_event, file) => {
          if (file === null || this.isSecretChange(dir, file)) this.schedule();
        });
        watcher.on('error', (error) => this.logger.warn({ err: error, dir }, 'watching a secret file failed; a changed secret applies at the next edit of the alerts file'));
        this.secretWatchers.set(dir, watcher);
      } catch (error) {
        this.logger.warn({ err: error, dir }, 'cannot watch a secret file; a changed secret applies at the next edit of the alerts file');
      }
    }
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
    if (this.watcher !== undefined) this.watchSecretFiles(file.secretFiles);
    this.logger.info({ path: this.path, rules: file.rules.length, receivers: file.receivers.size }, 'alerts file reloaded');
    return true;
  }

  shutdown(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
    for (const watcher of this.secretWatchers.values()) watcher.close();
    this.secretWatchers.clear();
  }
}
