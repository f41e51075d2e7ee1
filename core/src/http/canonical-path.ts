/**
 * Path canonicalisation for every HTTP server of Sloth (docs/security.md).
 *
 * Before routing, a request path is rewritten to one spelling, so that the
 * route that answers, and therefore the authentication it declares, is the
 * same for every spelling of that path:
 *
 * 1. percent-encoded unreserved characters (`A-Z a-z 0-9 - . _ ~`) are
 *    decoded (`/%61pi` → `/api`); other escapes stay encoded (an encoded
 *    `/` is part of a segment, never a separator);
 * 2. empty segments are dropped (`/api//v1` → `/api/v1`, and a trailing
 *    slash goes);
 * 3. dot segments are resolved (`/api/./v1`, `/x/../api/v1` → `/api/v1`),
 *    never above the root;
 * 4. case is left to the router, which matches static segments without
 *    regard to case and keeps parameters as sent;
 * 5. an absolute-form target (`http://host/api/v1`) is routed as its path.
 */

const unreserved = /^[A-Za-z0-9\-._~]$/;

/** The canonical form of a path (no query string). */
export function canonicalPath(path: string): string {
  const decoded = path.replace(/%([0-9a-fA-F]{2})/g, (escape: string, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return unreserved.test(char) ? char : escape.toUpperCase();
  });
  const segments: string[] = [];
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      segments.pop();
      continue;
    }
    segments.push(segment);
  }
  return `/${segments.join('/')}`;
}

/** The scheme and authority of an absolute-form request target (`GET http://host:4318/api/v1/agents`). */
const absoluteFormPrefix = /^https?:\/\/[^/?#]*/i;

/**
 * The canonical form of a request target: canonical path, query string as sent. An absolute-form target
 * (RFC 9112 §3.2.2, which servers must accept) is served as its origin form: scheme and authority dropped.
 */
export function canonicalUrl(url: string): string {
  const target = url.replace(absoluteFormPrefix, '');
  const end = target.search(/[?#]/);
  if (end === -1) return canonicalPath(target);
  return canonicalPath(target.slice(0, end)) + target.slice(end);
}
