import type { Command } from 'commander';
import { registerForecast } from './forecast.js';
import { registerBenchForecast } from './bench-forecast.js';
import { registerAnalytics } from './analytics.js';
import { registerCollector } from './collector.js';

/** Every sub-command registers itself here, one module per command. */
export const commands: Array<(program: Command) => void> = [registerForecast, registerBenchForecast, registerAnalytics, registerCollector];
