// The monitoring dashboard's entry: endpoints, log-in and log-out, and the session kept across
// reloads. Plain ES modules, no build step, nothing inline (the page's CSP allows scripts and
// styles from its own origin only). What a logged-in page does is dashboard.js's.
import { createApi } from './api.js';
import { Dashboard } from './dashboard.js';
import { claimsOf, clearSession, loadSession, principalOf, requestToken, saveSession } from './session.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const withSlash = (url) => url.replace(/\/?$/, '/');

/** The view of the session in progress (undefined while logged out) and its expiry timer. */
let dashboard;
let expiry;

async function endpoints() {
  // Served by the local stack; on AWS pass ?api=…&ws=… or fill in the Endpoints fields.
  let local = {};
  try {
    const answer = await fetch('config.json');
    if (answer.ok) local = await answer.json();
  } catch {}
  return { api: params.get('api') ?? local.httpUrl ?? '', ws: params.get('ws') ?? local.wsUrl ?? '' };
}

function showLogin(message) {
  $('monitor').hidden = true;
  $('logout').hidden = true;
  $('whoami').hidden = true;
  $('login').hidden = false;
  const pill = $('connection');
  pill.textContent = 'not connected';
  pill.className = 'pill off';
  const error = $('login-error');
  error.textContent = message ?? '';
  error.hidden = !message;
}

/** Ends the session: the monitor stops, the token is forgotten, the login form comes back. */
async function end(message) {
  const ending = dashboard;
  dashboard = undefined;
  clearTimeout(expiry);
  clearSession();
  showLogin(message);
  await ending?.stop();
}

function enter(session) {
  const principal = principalOf(claimsOf(session.token));
  const token = () => session.token;
  // Only this session's own troubles end it: a late 401 from a session already left must not
  // end the next one.
  let view;
  const endThis = (message) => {
    if (dashboard === view) end(message);
  };
  $('login').hidden = true;
  $('monitor').hidden = false;
  $('logout').hidden = false;
  $('whoami').hidden = false;
  $('whoami').textContent = principal.isAdmin ? `${principal.name} (admin)` : principal.name;
  const api = createApi({ base: session.api, token, onUnauthorized: () => endThis('The API refused the session (401); log in again.') });
  view = new Dashboard({ $, endpoints: { base: session.api, ws: session.ws, token }, principal, api, end: endThis });
  dashboard = view;
  view.start();
  expiry = setTimeout(() => endThis('Your session expired; log in again.'), session.exp * 1000 - Date.now());
}

async function login(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const button = event.target.querySelector('button[type=submit]');
  const api = withSlash($('api-url').value);
  button.disabled = true;
  try {
    const token = await requestToken(api, form.get('username'), form.get('password'));
    event.target.elements.password.value = '';
    enter(saveSession({ token, api, ws: $('ws-url').value }));
  } catch (error) {
    showLogin(error.message);
  } finally {
    button.disabled = false;
  }
}

// A read-only handle for tests and the console: counts, never the token.
Object.defineProperty(window, 'dashboard', {
  value: Object.freeze({ snapshot: () => dashboard?.snapshot() ?? null }),
});

const found = await endpoints();
$('login').addEventListener('submit', login);
$('logout').addEventListener('click', () => end());
const kept = loadSession();
$('api-url').value = kept.session?.api ?? found.api;
$('ws-url').value = kept.session?.ws ?? found.ws;
if (kept.session) {
  enter({ ...kept.session, api: withSlash(kept.session.api ?? found.api), ws: kept.session.ws ?? found.ws });
} else {
  showLogin(kept.expired ? 'Your session expired; log in again.' : undefined);
}
