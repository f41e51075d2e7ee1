export { buildProgram } from './program.js';
export { AllInOne } from './up.js';
export type { UpFlags } from './up.js';
