/**
 * `npm run users`: adds, lists and removes the users who may log in. Locally (the default) they
 * are DATA_DIR/users.json (local/users.ts), whether or not `npm start` runs; with `--aws`, the
 * deployed stack's Cognito user pool (bin/users-cognito.ts). This file reads the command line,
 * asks for the password, and prints.
 */
import { parseArgs } from 'node:util';
import { localConfigFromEnv } from '../local/config';
import { checkUsername, localUserStore, MIN_PASSWORD_LENGTH, type UserInfo } from '../local/users';
import type { PoolTarget, PoolUser } from './users-cognito';
import { askHidden } from './prompt';

/** The CDK stack's name when it was deployed with no `-c stackName=…` (bin/app.ts). */
const DEFAULT_STACK_NAME = 'DataHandler';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const USAGE = `Usage: npm run users -- <command> [options]

Manages who may log in: the local stack's users (DATA_DIR/users.json, default .data), or with
--aws the deployed stack's Cognito user pool.

Commands:
  add NAME [--admin] [--password P]   add a user; an admin sees every user's records.
                                      Without --password the password is asked twice on a
                                      terminal (not echoed), or read as one line from standard
                                      input otherwise. Locally at least ${MIN_PASSWORD_LENGTH} characters;
                                      on AWS the pool's policy applies.
  list                                every user: name, admin or not, when created
  remove NAME                         delete a user. Tokens already issued stay valid until
                                      they expire (1 hour); new logins are refused at once.

Options:
  --aws                 the deployed stack's user pool instead of the local users
  --stack NAME          the stack whose UserPoolId output names the pool (default ${DEFAULT_STACK_NAME})
  --user-pool-id ID     the pool itself, instead of --stack
  --region R            the stack's region (default: AWS_REGION or the profile's)
  -h, --help            this help

Locally the change applies to a running stack at once; usernames are 1 to 128 characters with
no whitespace or control characters. A --password on the command line is seen by other local
processes and kept in shell history: prefer the prompt or standard input.

Exit status: 0 done, 1 the change failed (user exists, no such user, weak password, AWS error),
2 a bad command line.`;

type Command = 'add' | 'list' | 'remove';
type Parsed =
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string }
  | { readonly kind: 'run'; readonly command: Command; readonly username: string; readonly admin: boolean; readonly password?: string; readonly aws?: PoolTarget };

function parse(argv: string[]): Parsed {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        admin: { type: 'boolean' },
        password: { type: 'string' },
        aws: { type: 'boolean' },
        stack: { type: 'string' },
        'user-pool-id': { type: 'string' },
        region: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    return { kind: 'error', message: (error as Error).message.split('\n')[0]! };
  }
  if (values.help) return { kind: 'help' };
  const [command, username, ...extra] = positionals;
  if (!command) return { kind: 'error', message: 'no command: add, list or remove' };
  if (command !== 'add' && command !== 'list' && command !== 'remove') return { kind: 'error', message: `unknown command ${JSON.stringify(command)}: add, list or remove` };
  if (command !== 'list' && username === undefined) return { kind: 'error', message: `${command} needs a username: npm run users -- ${command} NAME` };
  if (command === 'list' && username !== undefined) return { kind: 'error', message: `list takes no argument, got ${JSON.stringify(username)}` };
  if (extra.length > 0) return { kind: 'error', message: `unexpected argument ${JSON.stringify(extra[0])}` };
  if (command !== 'add' && (values.admin || values.password !== undefined)) return { kind: 'error', message: '--admin and --password go with add only' };
  const awsOnly = (['stack', 'user-pool-id', 'region'] as const).find((o) => values[o] !== undefined);
  if (awsOnly && !values.aws) return { kind: 'error', message: `--${awsOnly} goes with --aws` };
  if (values.stack !== undefined && values['user-pool-id'] !== undefined) return { kind: 'error', message: 'give --stack or --user-pool-id, not both' };
  return {
    kind: 'run',
    command,
    username: username ?? '',
    admin: values.admin ?? false,
    ...(values.password !== undefined ? { password: values.password } : {}),
    ...(values.aws ? { aws: { stack: values.stack ?? DEFAULT_STACK_NAME, region: values.region, userPoolId: values['user-pool-id'] } } : {}),
  };
}

/** Either place users live, as this command uses it. */
interface Users {
  readonly where: string;
  readonly removed: string;
  has(username: string): Promise<boolean>;
  add(user: { username: string; password: string; admin: boolean }): Promise<UserInfo>;
  list(): Promise<(UserInfo | PoolUser)[]>;
  remove(username: string): Promise<unknown>;
  close?(): void;
}

const LIVE_TOKENS = 'tokens already issued stay valid until they expire (at most 1 hour), and open monitoring connections stay open until they close';

async function localUsers(say: (line: string) => void): Promise<Users> {
  const config = localConfigFromEnv();
  const store = localUserStore(config);
  if (await store.seedIfMissing()) say(`made ${store.file} with the seed user ${config.LOCAL_USERNAME} (LOCAL_USERNAME / LOCAL_PASSWORD)`);
  return {
    where: store.file,
    removed: `new logins are refused at once, the running stack's included; ${LIVE_TOKENS}`,
    has: async (username) => (await store.find(username)) !== undefined,
    add: (user) => store.add(user),
    list: () => store.list(),
    remove: (username) => store.remove(username),
  };
}

async function poolUsers(target: PoolTarget): Promise<Users> {
  // Loaded only here: the AWS SDK's clients take a good part of a second to import.
  const { CognitoUsers, resolveUserPool } = await import('./users-cognito');
  const { userPoolId, source } = await resolveUserPool(target);
  const pool = CognitoUsers.forRegion(userPoolId, target.region);
  return {
    where: source,
    removed: `new logins are refused; access ${LIVE_TOKENS.replace('(at most 1 hour)', '(the stack\'s token lifetime, 1 hour by default)')}`,
    has: (username) => pool.has(username),
    add: (user) => pool.add(user),
    list: () => pool.list(),
    remove: (username) => pool.remove(username),
    close: () => pool.destroy(),
  };
}

/** The first line of standard input (a pipe or a file), without its line ending. */
async function readLine(): Promise<string | undefined> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) {
    text += chunk as string;
    if (text.includes('\n')) break;
  }
  const line = text.split('\n')[0]!.replace(/\r$/, '');
  return text === '' ? undefined : line;
}

class InputError extends Error {
  override readonly name = 'InputError';
}

async function passwordFor(username: string, given: string | undefined): Promise<string> {
  if (given !== undefined) return given;
  if (!process.stdin.isTTY) {
    const line = await readLine();
    if (!line) throw new InputError('no password: pass --password, send it as a line on standard input, or run on a terminal to be asked');
    return line;
  }
  const first = await askHidden(`password for ${username}: `);
  if (!first) throw new InputError('no password typed');
  if ((await askHidden('the same again: ')) !== first) throw new InputError('the two passwords differ; nothing was changed');
  return first;
}

function table(users: (UserInfo | PoolUser)[]): string {
  const pool = users.some((u) => 'sub' in u);
  const header = pool ? ['USERNAME', 'ADMIN', 'CREATED', 'STATUS', 'USER_ID (token sub)'] : ['USERNAME', 'ADMIN', 'CREATED'];
  const rows = users.map((u) => [u.username, u.admin ? 'yes' : 'no', u.created, ...('sub' in u ? [u.status, u.sub] : [])]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

async function run(args: Extract<Parsed, { kind: 'run' }>): Promise<void> {
  const users = args.aws ? await poolUsers(args.aws) : await localUsers((line) => console.log(line));
  try {
    if (args.command === 'list') {
      const all = await users.list();
      console.log(all.length ? table(all) : `(no users in ${users.where})`);
    } else if (args.command === 'add') {
      checkUsername(args.username);
      // Said before the password is asked for, not after it was typed twice.
      if (await users.has(args.username)) throw new InputError(`user ${JSON.stringify(args.username)} exists already in ${users.where}`);
      const password = await passwordFor(args.username, args.password);
      await users.add({ username: args.username, password, admin: args.admin });
      const live = args.aws ? 'they can log in with POST /auth/token' : 'they can log in now, the running stack included';
      console.log(`added ${args.username} (${args.admin ? 'admin: sees every user\'s records' : 'sees their own records'}) to ${users.where}; ${live}`);
    } else {
      await users.remove(args.username);
      console.log(`removed ${args.username} from ${users.where}: ${users.removed}`);
    }
  } finally {
    users.close?.();
  }
}

const parsed = parse(process.argv.slice(2));
if (parsed.kind === 'help') console.log(USAGE);
if (parsed.kind === 'error') console.error(`users: ${parsed.message}; see npm run users -- --help`);
if (parsed.kind === 'run') {
  try {
    await run(parsed);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`users: ${message.split('\n')[0]}`);
    // A bad environment (DATA_DIR, LOCAL_*) is a setup error, like a bad command line.
    process.exitCode = message.startsWith('Invalid configuration') ? 2 : 1;
  }
} else process.exitCode = parsed.kind === 'help' ? 0 : 2;
// Idle keep-alive sockets of the AWS clients must not hold the finished command.
setTimeout(() => process.exit(), 1_000).unref();
