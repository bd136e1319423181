/**
 * `npm run users` as the command itself (node --import tsx bin/users.ts), for the tests of the
 * local store, the running stack and Cognito: its exit status and what it printed.
 */
import { spawn } from 'node:child_process';
import { PROJECT_ROOT } from '../../lib/bundling';

export interface UsersRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The caller's environment without its LOCAL_* variables: `npm start`'s defaults. */
export function withoutLocalSettings(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LOCAL_')));
  return Object.fromEntries(Object.entries({ ...env, ...extra }).filter((e): e is [string, string] => e[1] !== undefined));
}

/** Runs the command with `args` in `env`, `stdin` piped in (so not a terminal). */
export function runUsers(args: readonly string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<UsersRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/users.ts', ...args], { cwd: PROJECT_ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}
