/**
 * A function's environment on this machine, from the synthesized template: its
 * Environment.Variables with every CloudFormation reference resolved to a local counterpart,
 * plus what the Lambda service itself sets (region, credentials) and the SDK's endpoint
 * variables pointing at the local services. Everything else stays as the template says.
 *
 * The wiring is explicit on purpose: a reference to a resource type (or a second resource of
 * a type) that has no local counterpart here fails loudly, naming the variable, so a new
 * binding cannot reach the artifact tests unwired. So does any amazonaws.com URL left over.
 */
import path from 'node:path';
import { IDEMPOTENCY_KEYS_TABLE } from '../../lambdas/core/idempotency';
import { LOGIN_ATTEMPTS_TABLE } from '../../lambdas/core/login-limit';
import { PIPELINE_STATE_TABLE } from '../../lambdas/core/pipeline';
import { APP_ROLES } from '../../lambdas/adapters/pg-roles';
import type { DatabaseRole } from '../../lambdas/functions';
import { LOCAL_AWS_CREDENTIALS } from '../../local/bindings';
import type { CfnTemplate, FunctionArtifact } from './artifact-synth';

/** The local counterparts of the stack's resources. */
export interface LocalAws {
  readonly account: string;
  readonly region: string;
  readonly sqsEndpoint: string;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly dynamoEndpoint: string;
  /** The writer's notes for the pipeline status. */
  readonly pipelineStateTable: string;
  readonly connectionsTable: string;
  /** The failed-login counters of the login function. */
  readonly loginAttemptsTable: string;
  /** The Idempotency-Keys claimed by uploads. */
  readonly idempotencyKeysTable: string;
  /** The local WebSocket gateway's management API (`http://127.0.0.1:<port>/<stage>`). */
  readonly managementEndpoint: string;
  readonly secretsManagerEndpoint: string;
  /** The ARNs the Secrets Manager emulator serves each database role's credentials under. */
  readonly databaseSecretArns: Readonly<Record<DatabaseRole, string>>;
  readonly database: { readonly host: string; readonly port: number };
  /** What `https://cognito-idp.<region>.amazonaws.com` is here, and its pool and client. */
  readonly cognito: { readonly endpoint: string; readonly poolId: string; readonly clientId: string };
  /**
   * The CA file the environment trusts besides Node's roots (read by the trust preamble, see
   * artifact-runtime.ts). On AWS the RDS Proxy's certificate chains to an Amazon root that
   * Node trusts out of the box; here the local PostgreSQL's test CA plays that part.
   */
  readonly trustedCaFile: string;
}

/** Any AWS call that no local service answers is refused at once, never sent to AWS. */
const NOWHERE = 'http://127.0.0.1:1';

/** What the WebSocket API's id resolves to; the management URL built from it is then mapped. */
const LOCAL_WS_API_ID = 'local-websocket-api';

type Resolve = (local: LocalAws, logicalId: string, template: CfnTemplate) => string;

/** `<resource type>|<Ref or attribute>` → its local counterpart. Nothing else resolves. */
const LOCAL_COUNTERPARTS: Record<string, Resolve> = {
  // The record queue has a redrive policy; its dead-letter queue has none.
  'AWS::SQS::Queue|Ref': (l, id, t) => (t.Resources[id]?.Properties?.RedrivePolicy ? l.queueUrl : l.deadLetterQueueUrl),
  // Four tables, told apart by their key.
  'AWS::DynamoDB::Table|Ref': (l, id, t) => {
    const key = t.Resources[id]?.Properties?.KeySchema?.[0]?.AttributeName;
    if (key === LOGIN_ATTEMPTS_TABLE.partitionKey) return l.loginAttemptsTable;
    if (key === IDEMPOTENCY_KEYS_TABLE.partitionKey) return l.idempotencyKeysTable;
    if (key === PIPELINE_STATE_TABLE.partitionKey) return l.pipelineStateTable;
    return l.connectionsTable;
  },
  'AWS::ApiGatewayV2::Api|Ref': (_l, id, t) => {
    const protocol = t.Resources[id]?.Properties?.ProtocolType;
    if (protocol !== 'WEBSOCKET') throw new Error(`only the WebSocket API has a local counterpart, not the ${protocol} API ${id}`);
    return LOCAL_WS_API_ID;
  },
  'AWS::Cognito::UserPool|Ref': (l) => l.cognito.poolId,
  'AWS::Cognito::UserPoolClient|Ref': (l) => l.cognito.clientId,
  // Three secrets, told apart by the user they are generated for.
  'AWS::SecretsManager::SecretTargetAttachment|Ref': (l, id, t) => l.databaseSecretArns[roleOfSecret(t, t.Resources[id]?.Properties?.SecretId?.Ref)],
  'AWS::SecretsManager::Secret|Ref': (l, id, t) => l.databaseSecretArns[roleOfSecret(t, id)],
  'AWS::RDS::DBProxy|Endpoint': (l) => l.database.host,
  'AWS::RDS::DBInstance|Endpoint.Address': (l) => l.database.host,
  'AWS::RDS::DBInstance|Endpoint.Port': (l) => String(l.database.port),
};

/** The database role whose credentials secret `id` is: by the user its template generates it for. */
function roleOfSecret(template: CfnTemplate, id: unknown): DatabaseRole {
  const generated = template.Resources[String(id)]?.Properties?.GenerateSecretString?.SecretStringTemplate;
  const text = typeof generated === 'string' ? generated : ((generated?.['Fn::Join']?.[1] ?? []) as unknown[]).map((p) => (typeof p === 'string' ? p : 'reference')).join('');
  const user = (JSON.parse(text || '{}') as { username?: string }).username;
  const masters = Object.values(template.Resources).filter((r) => r.Type === 'AWS::RDS::DBInstance').map((r) => r.Properties?.MasterUsername);
  if (user === APP_ROLES.writer) return 'writer';
  if (user === APP_ROLES.reader) return 'reader';
  if (user !== undefined && masters.includes(user)) return 'owner';
  throw new Error(`secret ${String(id)} is for ${user ?? 'no known user'}, which has no local counterpart`);
}

/** AWS service URLs (after references are resolved) → their local counterparts. */
const LOCAL_URLS: { readonly pattern: (l: LocalAws) => RegExp; readonly to: (l: LocalAws) => string }[] = [
  // The user pool's issuer (its JWKS lives under it), and the user pool API.
  { pattern: (l) => new RegExp(`^https://cognito-idp\\.${l.region}\\.amazonaws\\.com(?=/|$)`), to: (l) => l.cognito.endpoint },
  // The WebSocket API's management endpoint (any stage: the local gateway has one).
  { pattern: (l) => new RegExp(`^https://${LOCAL_WS_API_ID}\\.execute-api\\.${l.region}\\.amazonaws\\.com/[^/]+$`), to: (l) => l.managementEndpoint },
];

class Resolver {
  /** Which logical id each local counterpart was used for: two resources cannot share one. */
  private readonly used = new Map<string, string>();

  constructor(
    private readonly template: CfnTemplate,
    private readonly local: LocalAws,
  ) {}

  value(expr: unknown): string {
    if (typeof expr === 'string') return expr;
    if (typeof expr === 'number' || typeof expr === 'boolean') return String(expr);
    const [fn, arg] = intrinsic(expr);
    switch (fn) {
      case 'Ref':
        return this.ref(String(arg));
      case 'Fn::GetAtt': {
        const [id, attr] = Array.isArray(arg) ? arg.map(String) : String(arg).split(/\.(.*)/s);
        return this.counterpart(id!, attr!);
      }
      case 'Fn::Join': {
        const [separator, parts] = arg as [string, unknown];
        return this.list(parts).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = arg as [unknown, unknown];
        const items = this.list(list);
        const at = Number(this.value(index));
        if (!(at in items)) throw new Error(`Fn::Select index ${at} is outside a list of ${items.length}`);
        return items[at]!;
      }
      case 'Fn::Sub': {
        const [text, variables] = (Array.isArray(arg) ? arg : [arg, {}]) as [string, Record<string, unknown>];
        return text.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) =>
          name in variables ? this.value(variables[name]) : name.includes('.') ? this.value({ 'Fn::GetAtt': name }) : this.ref(name),
        );
      }
      default:
        throw new Error(`${fn} has no local resolution`);
    }
  }

  private list(expr: unknown): string[] {
    if (Array.isArray(expr)) return expr.map((e) => this.value(e));
    const [fn, arg] = intrinsic(expr);
    if (fn === 'Fn::Split') {
      const [separator, text] = arg as [string, unknown];
      return this.value(text).split(separator);
    }
    throw new Error(`${fn} as a list has no local resolution`);
  }

  private ref(name: string): string {
    switch (name) {
      case 'AWS::Region':
        return this.local.region;
      case 'AWS::AccountId':
        return this.local.account;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      default:
        return this.counterpart(name, 'Ref');
    }
  }

  private counterpart(logicalId: string, attribute: string): string {
    const resource = this.template.Resources[logicalId];
    if (!resource) throw new Error(`${logicalId} is not a resource of the template`);
    const key = `${resource.Type}|${attribute}`;
    const resolve = LOCAL_COUNTERPARTS[key];
    if (!resolve) throw new Error(`${attribute === 'Ref' ? 'Ref' : `Fn::GetAtt .${attribute}`} of ${logicalId} (${resource.Type}) has no local counterpart; wire it in test/support/artifact-environment.ts`);
    const value = resolve(this.local, logicalId, this.template);
    const earlier = this.used.get(`${key}|${value}`);
    if (earlier !== undefined && earlier !== logicalId) {
      throw new Error(`both ${earlier} and ${logicalId} (${key}) are referenced, but there is one local counterpart; give each its own`);
    }
    this.used.set(`${key}|${value}`, logicalId);
    return value;
  }
}

function intrinsic(expr: unknown): [string, unknown] {
  const keys = expr && typeof expr === 'object' ? Object.keys(expr) : [];
  if (keys.length !== 1) throw new Error(`${JSON.stringify(expr)} is not a CloudFormation intrinsic`);
  return [keys[0]!, (expr as Record<string, unknown>)[keys[0]!]];
}

/** A Lambda path (`/var/task/...`: the unpacked asset; `/var/runtime/ca-cert.pem`: the CA bundle) here. */
function localPath(value: string, artifact: FunctionArtifact, local: LocalAws): string {
  if (value === '/var/task' || value.startsWith('/var/task/')) return path.join(artifact.assetDir, value.slice('/var/task'.length));
  if (value === '/var/runtime/ca-cert.pem') return local.trustedCaFile;
  if (value.startsWith('/var/runtime/') || value.startsWith('/opt/')) throw new Error(`${value} has no local counterpart`);
  return value;
}

function localUrl(value: string, local: LocalAws): string {
  for (const rule of LOCAL_URLS) {
    const pattern = rule.pattern(local);
    if (pattern.test(value)) return value.replace(pattern, rule.to(local));
  }
  if (/amazonaws\.com|\.aws(\/|$)/.test(value)) throw new Error(`${value} is an AWS address with no local counterpart`);
  return value;
}

/** The template's variables of `artifact`, resolved for this machine; fails naming the variable. */
export function resolveTemplateVariables(artifact: FunctionArtifact, template: CfnTemplate, local: LocalAws): Record<string, string> {
  const resolver = new Resolver(template, local);
  const env: Record<string, string> = {};
  for (const [name, expr] of Object.entries(artifact.variables)) {
    try {
      env[name] = localPath(localUrl(resolver.value(expr), local), artifact, local);
    } catch (error) {
      throw new Error(`${artifact.spec.name}: ${name} = ${JSON.stringify(expr)}: ${(error as Error).message}`);
    }
  }
  // The template's DATABASE_PORT is a literal (the proxy listens on 5432); the local server's
  // port is chosen at random.
  if (env.DATABASE_PORT !== undefined && env.DATABASE_HOST === local.database.host) env.DATABASE_PORT = String(local.database.port);
  return env;
}

/**
 * The whole environment a function's execution environment gets here: the resolved template
 * variables, what Lambda sets in every environment, and the local wiring of the AWS SDK.
 */
export function artifactEnvironment(artifact: FunctionArtifact, template: CfnTemplate, local: LocalAws): Record<string, string> {
  return {
    NODE_EXTRA_CA_CERTS: local.trustedCaFile,
    ...resolveTemplateVariables(artifact, template, local),
    // Set by Lambda in every environment (reserved: a function cannot override them).
    AWS_REGION: local.region,
    AWS_DEFAULT_REGION: local.region,
    AWS_ACCESS_KEY_ID: LOCAL_AWS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_AWS_CREDENTIALS.secretAccessKey,
    AWS_LAMBDA_FUNCTION_NAME: artifact.spec.name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(artifact.memoryMb),
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    LAMBDA_TASK_ROOT: artifact.assetDir,
    TZ: ':UTC',
    // The local wiring: the SDK's standard endpoint variables, and nowhere for anything else.
    AWS_ENDPOINT_URL: NOWHERE,
    AWS_ENDPOINT_URL_SQS: local.sqsEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB: local.dynamoEndpoint,
    AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: local.cognito.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: local.secretsManagerEndpoint,
  };
}

/** A resource's properties (a custom resource's, say) resolved the same way; ServiceToken is left out. */
export function resolveProperties(properties: Readonly<Record<string, unknown>>, template: CfnTemplate, local: LocalAws): Record<string, string> {
  const resolver = new Resolver(template, local);
  return Object.fromEntries(
    Object.entries(properties)
      .filter(([name]) => name !== 'ServiceToken')
      .map(([name, expr]) => [name, localUrl(resolver.value(expr), local)]),
  );
}
