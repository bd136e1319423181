/**
 * Which web origins may use the local APIs from a browser: the dashboard's own (the HTTP
 * gateway's) and those of the CORS_ALLOW_ORIGINS setting. A page on any other origin gets no
 * CORS headers and no WebSocket. Clients that are not browsers send no `Origin` and are not
 * concerned: the bearer token guards them.
 */

/** The allow-list setting: `*` (any origin, an explicit choice) or origins such as `http://localhost:5173`. */
export type OriginList = readonly string[];

/** Parses a comma-separated allow-list; throws, naming the bad entry, on anything but `*` or an origin. */
export function parseOriginList(text: string): string[] {
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      if (entry === '*') return entry;
      let origin: string;
      try {
        origin = new URL(entry).origin;
      } catch {
        throw new Error(`not an origin: ${entry}`);
      }
      if (origin === 'null' || origin !== entry.replace(/\/$/, '').toLowerCase()) {
        throw new Error(`not an origin (scheme://host[:port], nothing after it): ${entry}`);
      }
      return origin;
    });
}

export interface OriginPolicy {
  /** Whether a browser page of `origin` may call the APIs. */
  allows(origin: string): boolean;
  /** The `Access-Control-Allow-Origin` value for `origin`, or undefined to refuse it. */
  allowOriginHeader(origin: string): string | undefined;
}

/**
 * The dashboard's origin (the HTTP gateway's URL, and the same port under `localhost`, which
 * reaches the same listener) plus `allowList`.
 */
export function originPolicy(dashboardUrl: string, allowList: OriginList = []): OriginPolicy {
  const own = new URL(dashboardUrl);
  const allowed = new Set([own.origin, `${own.protocol}//localhost${own.port ? `:${own.port}` : ''}`, ...allowList]);
  const any = allowed.has('*');
  const allows = (origin: string) => any || allowed.has(origin.toLowerCase());
  return {
    allows,
    allowOriginHeader: (origin) => (any ? '*' : allows(origin) ? origin : undefined),
  };
}
