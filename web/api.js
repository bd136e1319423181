// GET requests to the HTTP API with the session's token. A 401 ends the session in one place
// (the token expired or was revoked), whichever panel happened to notice it first.

/** An API answer other than 2xx, with the API's own message and the parameters it names. */
export class ApiError extends Error {
  constructor(status, body) {
    const details = (body?.error?.details ?? []).map((d) => `${d.path} ${d.message}`).join('; ');
    super(`${body?.error?.message ?? `HTTP ${status}`}${details ? ` (${details})` : ''}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = body?.error?.code;
  }
}

/**
 * @param {object} options
 * @param {string} options.base            the HTTP API's base URL, ending in /
 * @param {() => string} options.token
 * @param {() => void} options.onUnauthorized  called on a 401, before the ApiError is thrown
 */
export function createApi({ base, token, onUnauthorized }) {
  return {
    /** GET `path` with `params` (undefined and '' left out); resolves to the JSON body. */
    async get(path, params = {}) {
      const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== ''));
      const answer = await fetch(new URL(`${path}?${query}`, base), { headers: { authorization: `Bearer ${token()}` } });
      const body = await answer.json().catch(() => null);
      if (answer.status === 401) onUnauthorized();
      if (!answer.ok) throw new ApiError(answer.status, body);
      return body;
    },
  };
}
