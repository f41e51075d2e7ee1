/** Sloth's version, kept in step with the root package.json by a test. */
export const version = '0.1.0';
