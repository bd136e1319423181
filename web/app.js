// The monitoring dashboard: logs in, watches the WebSocket, and runs the swing analysis.
// Plain browser JavaScript, no build step. The token lives in memory only. The monitoring
// protocol (dedupe by id, missed frames, catch-up after a reconnect) is monitor-client.js's.
import { Monitor } from './monitor-client.js';

const MAX_ROWS = 200;
const $ = (id) => document.getElementById(id);

const params = new URLSearchParams(location.search);
const state = { token: null, monitor: null, total: 0, arrivals: [], users: new Set() };

async function endpoints() {
  // Served by the local stack; on AWS pass ?api=…&ws=… or fill in the Endpoints fields.
  let local = {};
  try {
    const answer = await fetch('config.json');
    if (answer.ok) local = await answer.json();
  } catch {}
  return { api: params.get('api') ?? local.httpUrl ?? '', ws: params.get('ws') ?? local.wsUrl ?? '' };
}

function apiUrl(path) {
  return new URL(path, $('api-url').value.replace(/\/?$/, '/')).toString();
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function setConnection(text, on) {
  const pill = $('connection');
  pill.textContent = text;
  pill.className = `pill ${on ? 'on' : 'off'}`;
}

function showStatus(frame) {
  const banner = $('status');
  banner.textContent = `${frame.stage} ${frame.level}: ${frame.message} (${frame.pending} records pending)`;
  banner.hidden = false;
}

function addRecords(records) {
  const body = $('records');
  const now = performance.now();
  $('status').hidden = true; // records flow again: the pipeline is not stuck
  for (const r of records) {
    state.total++;
    state.users.add(r.user_id);
    state.arrivals.push(now);
    const row = document.createElement('tr');
    row.append(cell(r.date), cell(r.user_id), cell(String(r.data), 'num'), cell(r.stored_at), cell(r.id, 'id'));
    body.prepend(row);
  }
  while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
  const last = records.at(-1);
  if (last) $('count-latency').textContent = `${Math.max(0, Date.parse(last.stored_at) - Date.parse(last.accepted_at))} ms`;
  $('count-total').textContent = String(state.total);
  $('count-users').textContent = String(state.users.size);
}

function refreshRate() {
  const since = performance.now() - 10_000;
  state.arrivals = state.arrivals.filter((t) => t >= since);
  $('count-rate').textContent = (state.arrivals.length / 10).toFixed(1);
}

function connect() {
  state.monitor = new Monitor({
    httpUrl: $('api-url').value,
    wsUrl: $('ws-url').value,
    token: () => state.token,
    // Six failed reconnects in a row: most likely the token expired.
    maxRetries: 6,
    onRecords: (records) => addRecords(records),
    onFrame: (frame) => {
      if (frame.type === 'status') showStatus(frame);
    },
    onState: (name, detail) => {
      if (name === 'connecting') setConnection('connecting…', false);
      else if (name === 'live') setConnection('live', true);
      else if (name === 'closed') setConnection('reconnecting…', false);
      else if (name === 'catching-up') setConnection('catching up…', true);
      else if (name === 'caught-up') setConnection('live', true);
      else if (name === 'fetch-failed') showStatus({ stage: 'push', level: 'warning', message: `Fetching missed records failed: ${detail.error}`, pending: 0 });
      else if (name === 'gave-up') showLogin('The connection keeps failing; log in again.');
    },
  }).start();
}

function showLogin(message) {
  const monitor = state.monitor;
  state.monitor = null;
  monitor?.stop();
  $('monitor').hidden = true;
  $('login').hidden = false;
  const error = $('login-error');
  error.textContent = message ?? '';
  error.hidden = !message;
}

async function login(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    const answer = await fetch(apiUrl('auth/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: form.get('username'), password: form.get('password') }),
    });
    const body = await answer.json();
    if (!answer.ok) return showLogin(body.error?.message ?? `Log-in failed (${answer.status}).`);
    state.token = body.access_token;
  } catch (error) {
    return showLogin(`Cannot reach the API: ${error.message}`);
  }
  $('login').hidden = true;
  $('monitor').hidden = false;
  connect();
}

function defaultWindow() {
  const end = new Date();
  const start = new Date(end.getTime() - 24 * 3_600_000);
  $('start-time').value = start.toISOString().replace(/\.\d{3}Z$/, 'Z');
  $('end-time').value = end.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function analyse(event) {
  event.preventDefault();
  const query = new URLSearchParams({ start_time: $('start-time').value, end_time: $('end-time').value });
  const message = $('analysis-message');
  const body = $('signals');
  body.replaceChildren();
  message.textContent = 'Analysing…';
  const answer = await fetch(apiUrl(`api/data/swing-analyze?${query}`), { headers: { authorization: `Bearer ${state.token}` } });
  const result = await answer.json();
  if (!answer.ok) {
    const details = (result.error?.details ?? []).map((d) => `${d.path} ${d.message}`).join('; ');
    message.textContent = `${result.error?.message ?? answer.status}${details ? ` ${details}` : ''}`;
    return;
  }
  message.textContent = result.message ?? `${result.signals.length} signals`;
  for (const s of result.signals) {
    const row = document.createElement('tr');
    row.append(cell(s.time), cell(s.signal, s.signal), cell(String(s.average), 'num'));
    body.append(row);
  }
}

const { api, ws } = await endpoints();
$('api-url').value = api;
$('ws-url').value = ws;
defaultWindow();
$('login').addEventListener('submit', login);
$('analysis').addEventListener('submit', analyse);
setInterval(refreshRate, 1_000);
