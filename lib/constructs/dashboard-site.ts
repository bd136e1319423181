import { CfnResource, Duration, Fn, Names, RemovalPolicy, Stack, Stage, Token, Validations } from 'aws-cdk-lib';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  Function as EdgeFunction,
  FunctionCode,
  FunctionEventType,
  FunctionRuntime,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  PriceClass,
  ResponseHeadersPolicy,
  S3OriginAccessControl,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, CacheControl, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct, type IConstruct } from 'constructs';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { dashboardFiles, dashboardPolicy } from '../../web/files';
import { acknowledgeFinding, BASIC_EXECUTION_POLICY, nagEnv, nagRef } from '../nag';

/** Where the page finds the APIs (web/app.js `endpoints()`); written at deploy time. */
export const CONFIG_FILE = 'config.json';

/** The S3 user metadata (`x-amz-meta-…`) that carries each file's Content-Security-Policy. */
export const CSP_METADATA_KEY = 'csp';

/** What the page is held to when a response carries no policy of its own (see the edge function). */
export const FALLBACK_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The viewer-response function (CloudFront Functions, JS 2.0) that turns the policy stored with
 * each object into the Content-Security-Policy header, and drops the metadata header itself.
 */
export const CSP_FUNCTION_CODE = `function handler(event) {
  var headers = event.response.headers;
  var stored = headers['x-amz-meta-${CSP_METADATA_KEY}'];
  delete headers['x-amz-meta-${CSP_METADATA_KEY}'];
  headers['content-security-policy'] = { value: stored && stored.value ? stored.value : ${JSON.stringify(FALLBACK_CSP)} };
  return event.response;
}`;

export interface DashboardSiteProps {
  /** The HTTP API's base URL (`https://…/`): config.json's `httpUrl`, and allowed by the page's connect-src. */
  readonly httpApiUrl: string;
  /** The WebSocket stage's URL (`wss://…/live`): config.json's `wsUrl`, and allowed by the page's connect-src. */
  readonly webSocketUrl: string;
  /**
   * The files to serve: served name (may contain a folder) to absolute path.
   * @default dashboardFiles() of web/files.ts, as it is at synth time
   */
  readonly files?: Readonly<Record<string, string>>;
  /** Where CloudFront serves from. @default PriceClass.PRICE_CLASS_100 (North America, Europe, Israel) */
  readonly priceClass?: PriceClass;
  /** Retention of the log groups of the functions that deploy the files and empty the bucket. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * The monitoring dashboard on AWS: web/'s files and a generated config.json in a private S3
 * bucket, served by CloudFront through Origin Access Control, HTTPS only, with security headers.
 *
 * Every file is served with `Cache-Control: no-cache`. The files carry no content hashes and
 * import one another by fixed names (index.html, app.js, monitor-client.js, vendor/…), so any
 * max-age would let a browser combine a new index.html with modules it cached before a deploy;
 * revalidation costs a 304 a file. Each deploy also invalidates the distribution, so no edge
 * serves a file (or its policy) from before it.
 *
 * The Content-Security-Policy names the API origins exactly. It cannot sit in the response
 * headers policy: the distribution needs that policy, the HTTP API's CORS needs the
 * distribution's domain, and the policy would need the API, a cycle CloudFormation refuses. The
 * deployment depends on all of them anyway (config.json names the APIs), so it stores the policy
 * with each object as metadata, and a viewer-response function serves it as the header.
 */
export class DashboardSite extends Construct {
  public readonly bucket: Bucket;
  public readonly distribution: Distribution;
  /** HSTS, nosniff, frame denial and the referrer policy. */
  public readonly headersPolicy: ResponseHeadersPolicy;
  /** Serves the stored Content-Security-Policy (see CSP_FUNCTION_CODE). */
  public readonly cspFunction: EdgeFunction;
  public readonly deployment: BucketDeployment;
  /** The deployment function's log group. */
  public readonly deploymentLogs: LogGroup;
  /** The page's Content-Security-Policy, as deployed (it contains the API origins as tokens). */
  public readonly contentSecurityPolicy: string;
  /** The site's origin, `https://d123.cloudfront.net`: what the HTTP API allows by CORS. */
  public readonly origin: string;
  /** The dashboard's URL, `https://d123.cloudfront.net/`. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: DashboardSiteProps) {
    super(scope, id);
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    const logRemovalPolicy = props.logRemovalPolicy ?? RemovalPolicy.DESTROY;

    // Only rebuildable files: deleting the stack deletes them with the bucket.
    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    this.followLogRetention(logRetention, logRemovalPolicy);

    this.contentSecurityPolicy = dashboardPolicy([originOf(props.httpApiUrl), originOf(props.webSocketUrl)]);
    this.headersPolicy = new ResponseHeadersPolicy(this, 'Headers', {
      responseHeadersPolicyName: globalName(this, 'Headers', 128),
      comment: 'data-handler dashboard: security headers (the CSP comes with each object)',
      securityHeadersBehavior: {
        strictTransportSecurity: { accessControlMaxAge: Duration.days(730), includeSubdomains: true, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override: true },
      },
    });
    this.cspFunction = new EdgeFunction(this, 'CspFunction', {
      comment: 'Serves the Content-Security-Policy stored with each object',
      runtime: FunctionRuntime.JS_2_0,
      code: FunctionCode.fromInline(CSP_FUNCTION_CODE),
    });
    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'data-handler monitoring dashboard',
      defaultRootObject: 'index.html',
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: props.priceClass ?? PriceClass.PRICE_CLASS_100,
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket, {
          originAccessControl: new S3OriginAccessControl(this, 'OriginAccess', { originAccessControlName: globalName(this, 'OriginAccess', 64) }),
        }),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        compress: true,
        responseHeadersPolicy: this.headersPolicy,
        functionAssociations: [{ function: this.cspFunction, eventType: FunctionEventType.VIEWER_RESPONSE }],
      },
    });
    this.origin = `https://${this.distribution.distributionDomainName}`;
    this.url = `${this.origin}/`;

    this.deploymentLogs = new LogGroup(this, 'DeploymentLogs', { retention: logRetention, removalPolicy: logRemovalPolicy });
    this.deployment = new BucketDeployment(this, 'Files', {
      destinationBucket: this.bucket,
      sources: [
        Source.asset(stageFiles(this, props.files ?? dashboardFiles())),
        Source.jsonData(CONFIG_FILE, { httpUrl: props.httpApiUrl, wsUrl: props.webSocketUrl }),
      ],
      cacheControl: [CacheControl.noCache()],
      metadata: { [CSP_METADATA_KEY]: this.contentSecurityPolicy },
      distribution: this.distribution,
      distributionPaths: ['/*'],
      logGroup: this.deploymentLogs,
    });
    this.acknowledgeFindings();
  }

  /**
   * The bucket's auto-delete function is CDK's stack-wide provider, a raw CloudFormation function
   * without a log group setting: it gets one here, with the stack's retention, like every other.
   */
  private followLogRetention(retention: RetentionDays, removalPolicy: RemovalPolicy): void {
    const handler = autoDeleteProvider(this)?.node.tryFindChild('Handler') as CfnResource | undefined;
    if (!handler) return;
    const logs = new LogGroup(this, 'AutoDeleteLogs', { retention, removalPolicy });
    handler.addPropertyOverride('LoggingConfig.LogGroup', logs.logGroupName);
  }

  private acknowledgeFindings(): void {
    // cdk-nag 3.0.2 does not report S1 here (it takes an unnamed bucket without logging for its
    // own log target), but the bucket has no server access logs: the reason stands for when it does.
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'The bucket holds only the dashboard\'s static files, read by CloudFront alone (OAC); every call the page makes is logged by the APIs\' access logs.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason: 'The dashboard is for operators wherever they are; its data needs a Cognito login, so a geo restriction would protect nothing.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR2',
      reason: 'The distribution serves a handful of static files (GET/HEAD only); the APIs behind the page are throttled and authenticated. A web ACL would cost more than the site.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR3',
      reason: 'Standard logging needs an ACL-enabled log bucket (or logging set up in us-east-1), for requests of static files that are the same for everyone; the APIs log every data access.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR4',
      reason: 'The distribution uses the default *.cloudfront.net certificate, whose security policy CloudFront fixes (minimumProtocolVersion needs a custom certificate and domain).',
    });

    const handler = Stack.of(this).node.children.find((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'));
    if (!handler) return;
    acknowledgeFinding(handler, 'AwsSolutions-IAM4', BASIC_EXECUTION_POLICY,
      'CDK\'s bucket-deployment function (it copies the dashboard\'s files into the bucket) logs with the AWS Lambda basic execution policy.');
    for (const action of ['s3:GetBucket*', 's3:GetObject*', 's3:List*', 's3:Abort*', 's3:DeleteObject*']) {
      acknowledgeFinding(handler, 'AwsSolutions-IAM5', `Action::${action}`,
        `CDK's bucket-deployment grant: it reads the asset and syncs (copies, prunes) the dashboard bucket; ${action} is on those buckets only.`);
    }
    acknowledgeFinding(handler, 'AwsSolutions-IAM5', `Resource::${nagRef(this.bucket, 'Arn')}/*`,
      'The bucket-deployment function writes and prunes the objects of the dashboard bucket, and no other bucket.');
    const assets = assetBucketName(this);
    if (assets) {
      acknowledgeFinding(handler, 'AwsSolutions-IAM5', `Resource::arn:<AWS::Partition>:s3:::${assets}/*`,
        'The bucket-deployment function reads the zipped files from the CDK bootstrap asset bucket, where `cdk deploy` uploads them.');
    }
    acknowledgeFinding(handler, 'AwsSolutions-IAM5', 'Resource::*',
      'CDK\'s bucket-deployment grants cloudfront:CreateInvalidation and GetInvalidation on *; it invalidates only the distribution it is given.');
    Validations.of(handler).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'The bucket-deployment function\'s runtime is chosen by the CDK version in use.',
    });
  }
}

/** `scheme://host` of a URL, also of a URL that is a token until deploy time. */
export function originOf(url: string): string {
  const parts = Fn.split('/', url);
  return Fn.join('', [Fn.select(0, parts), '//', Fn.select(2, parts)]);
}

/**
 * A name for a CloudFront resource, unique in the account: CloudFront's names are global, so
 * unlike CDK's default names it includes the region (one stack name in two regions).
 */
function globalName(scope: Construct, id: string, maxLength: number): string {
  const region = Stack.of(scope).region;
  // Region names are at most 14 characters, and an unknown one is resolved at deploy time.
  const room = maxLength - id.length - 1 - (Token.isUnresolved(region) ? 14 : region.length);
  return `${Names.uniqueResourceName(scope, { maxLength: room })}${id}-${region}`;
}

/** The bootstrap asset bucket's name as cdk-nag prints it (`cdk-…-assets-<AWS::AccountId>-<AWS::Region>`). */
function assetBucketName(scope: IConstruct): string | undefined {
  const stack = Stack.of(scope);
  const synthesizer = stack.synthesizer as { bucketName?: unknown };
  if (typeof synthesizer.bucketName !== 'string') return undefined;
  const { account, region } = nagEnv(scope);
  // Unknown at synth, the account and region stay placeholders (`${AWS::AccountId}`) or tokens.
  return synthesizer.bucketName
    .replace(/\$\{(AWS::[A-Za-z]+)\}/g, '<$1>')
    .split(stack.account).join(account)
    .split(stack.region).join(region);
}

/** CDK's stack-wide provider that empties buckets with `autoDeleteObjects`, once a bucket asks for it. */
function autoDeleteProvider(scope: IConstruct): IConstruct | undefined {
  return Stack.of(scope).node.tryFindChild('Custom::S3AutoDeleteObjectsCustomResourceProvider');
}

/**
 * Copies the files under their served names into a folder of the cloud assembly, emptied first:
 * the asset's hash covers names and contents only, so it changes exactly when a file does.
 */
function stageFiles(scope: Construct, files: Readonly<Record<string, string>>): string {
  const dir = path.resolve(Stage.of(scope)!.outdir, `dashboard-files-${scope.node.addr}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, source] of Object.entries(files)) {
    const target = path.resolve(dir, name);
    if (name === CONFIG_FILE) throw new Error(`DashboardSite: ${CONFIG_FILE} is generated at deploy time; web/ must not serve one`);
    if (!target.startsWith(dir + path.sep)) throw new Error(`DashboardSite: served name ${JSON.stringify(name)} leaves the site`);
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(source, target);
  }
  return dir;
}
