/**
 * Asking for a secret on the terminal, for the command-line tools (`npm run smoke`,
 * `npm run users`): typed without echo, never on the command line or in shell history.
 */

/** Reads a line from the terminal without echo; undefined when stdin is not a terminal or input ends. */
export function askHidden(prompt: string): Promise<string | undefined> {
  const input = process.stdin;
  if (!input.isTTY) return Promise.resolve(undefined);
  // Echo off before the prompt shows: what is typed the moment it appears is not echoed either.
  input.setRawMode(true);
  process.stderr.write(prompt);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve) => {
    let value = '';
    const finish = (result: string | undefined) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      resolve(result);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish(value);
        if (ch === '\u0003') {
          finish(undefined);
          process.exit(130); // Ctrl-C: raw mode swallows the signal, so honour it here.
        }
        if (ch === '\u0004') return finish(value || undefined); // Ctrl-D
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    input.on('data', onData);
  });
}
