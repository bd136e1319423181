// Times as people read them: the browser's own zone, named on the page, because the API speaks
// UTC and a window typed in UTC by someone in UTC+2 would silently be off by two hours.

const pad = (n, width = 2) => String(n).padStart(width, '0');

/** `ms` as a datetime-local input's value (local time, whole seconds). */
export function toLocalInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A datetime-local value (read as local time) in ms; NaN when empty or unparsable. */
export function fromLocalInput(value) {
  // Date parses a zone-less date-time as local time, which is what the picker shows.
  return value ? new Date(value).getTime() : NaN;
}

/** The local UTC offset at `ms` as ±HH:MM: it differs across a daylight-saving change. */
function offsetAt(ms) {
  const minutes = -new Date(ms).getTimezoneOffset();
  const sign = minutes < 0 ? '-' : '+';
  return `${sign}${pad(Math.floor(Math.abs(minutes) / 60))}:${pad(Math.abs(minutes) % 60)}`;
}

/** `ms` as ISO-8601 in local time with its offset, for the API (which needs a zone). */
export function isoWithOffset(ms) {
  return `${toLocalInput(ms)}${offsetAt(ms)}`;
}

/** The browser's zone, as shown beside the pickers: "Europe/Berlin, UTC+01:00". */
export function zoneLabel(ms = Date.now()) {
  const name = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return `${name ?? 'local time'}, UTC${offsetAt(ms)}`;
}

/** An API timestamp (or ms) in local time, "2026-01-01 10:00:00", for tables (the ISO goes in a tooltip). */
export function localTime(iso) {
  const ms = typeof iso === 'number' ? iso : Date.parse(iso);
  return Number.isNaN(ms) ? String(iso) : toLocalInput(ms).replace('T', ' ');
}

/** "3 s ago", "2 min ago": how old a reading is, at a glance. */
export function ago(iso, now = Date.now()) {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}
