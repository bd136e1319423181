// The latest records table and the admin's user filter: both list what the store holds, the
// table filtered by the user picked.
import { localTime } from './time.js';

/** The newest stored first, at most `max`, of one user or all (''); local dates, ISO in tooltips. */
export function renderRecords(body, recent, userId, max) {
  const rows = [];
  for (const r of recent) {
    if (userId && r.user_id !== userId) continue;
    const row = document.createElement('tr');
    const cells = [
      [localTime(r.date), '', r.date],
      [r.user_id, ''],
      [String(r.data), 'num'],
      [`${Math.max(0, r.storedMs - Date.parse(r.accepted_at))} ms`, 'num', `stored ${r.stored_at}`],
      // The id is hidden on a phone (class "wide"): it is the widest column and the least read.
      [r.id, 'id wide'],
    ];
    for (const [text, className, title] of cells) {
      const td = document.createElement('td');
      td.textContent = text;
      if (className) td.className = className;
      if (title) td.title = title;
      row.append(td);
    }
    rows.push(row);
    if (rows.length === max) break;
  }
  body.replaceChildren(...rows);
}

/** Adds the users not yet offered; "All users" (value '') stays first and the choice stays put. */
export function renderUserOptions(select, users) {
  const have = new Set([...select.options].map((o) => o.value));
  for (const user of users) {
    if (!have.has(user)) select.append(new Option(user, user));
  }
}
