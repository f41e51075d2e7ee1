import { InputError } from '@sloth/core/errors';

/**
 * Parses the URL of an HTTP service given as a flag (`--collector`, `--scheduler`, `--alerts`…).
 * One carrying a user name or password is refused without repeating it: fetch cannot send such a
 * URL, and the error it throws would print the URL whole (test/session-e-rules.md, F4). Throws an
 * {@link InputError}, not commander's InvalidArgumentError: commander repeats the rejected value in
 * its message, and the value is the secret.
 */
export function serviceUrlFlag(name: string): (value: string) => string {
  return (value: string): string => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      // Not a URL: its consumer says so, naming it; unless it may hold a secret before an "@".
      if (value.includes('@')) throw new InputError(`${name} is not a URL (not shown: it holds an "@" and may carry a password); use e.g. http://127.0.0.1:4318`);
      return value;
    }
    if (url.username !== '' || url.password !== '') {
      throw new InputError(`${name} must not carry a user name or password (not shown); give the token with --token or its environment variable instead`);
    }
    // A base URL has no query or fragment (the clients append paths to it, which a query would swallow), and a token may sit there.
    if (url.search !== '' || url.hash !== '') throw new InputError(`${name} must be a base URL without "?…" or "#…" (not shown), e.g. ${url.origin}`);
    // Any other fault (a scheme that is not http) is its consumer's to report, with the other problems of its configuration.
    return value;
  };
}

/** A service URL as the CLI prints it: origin and path, never user info, query or fragment (a token may sit there). */
export function shownUrl(text: string): string {
  try {
    const url = new URL(text);
    return `${url.origin}${url.pathname === '/' ? '' : url.pathname}`;
  } catch {
    return '<not a URL>';
  }
}
