// The monitoring dashboard: logs in, watches the WebSocket, and runs the swing analysis.
// Plain browser JavaScript, no build step. The token lives in memory only.

const MAX_ROWS = 200;
const PING_EVERY_MS = 5 * 60_000; // API Gateway closes connections idle for 10 minutes
const $ = (id) => document.getElementById(id);

const params = new URLSearchParams(location.search);
const state = { token: null, socket: null, total: 0, arrivals: [], users: new Set(), retry: 0, closing: false };

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
  const url = new URL($('ws-url').value);
  url.searchParams.set('token', state.token);
  const socket = new WebSocket(url);
  state.socket = socket;
  setConnection('connecting…', false);
  socket.onopen = () => {
    state.retry = 0;
    setConnection('live', true);
  };
  socket.onmessage = (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (frame.type === 'records') addRecords(frame.records);
    else if (frame.type === 'status') showStatus(frame);
  };
  socket.onclose = () => {
    if (state.closing) return;
    // Back off, then reconnect; a refused token ends at the login form instead.
    const delay = Math.min(30_000, 1_000 * 2 ** state.retry++);
    setConnection(`reconnecting in ${Math.round(delay / 1000)} s`, false);
    setTimeout(() => (state.retry > 6 ? showLogin('The connection keeps failing; log in again.') : connect()), delay);
  };
}

function showLogin(message) {
  state.closing = true;
  state.socket?.close();
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
  state.closing = false;
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
setInterval(() => state.socket?.readyState === WebSocket.OPEN && state.socket.send('{"action":"ping"}'), PING_EVERY_MS);
