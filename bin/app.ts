/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy`. Settings come from context
 * (`-c batchSize=500`, or cdk.json), each with a documented default in DataHandlerStackProps.
 */
import { App, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { InstanceType } from 'aws-cdk-lib/aws-ec2';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DataHandlerStack } from '../lib/data-handler-stack';

const app = new App();
const context = (key: string): string | undefined => {
  const value = app.node.tryGetContext(key);
  return value === undefined || value === null ? undefined : String(value);
};
const number = (key: string) => {
  const raw = context(key);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`context ${key} must be a number, got ${JSON.stringify(raw)}`);
  return value;
};
const bool = (key: string) => {
  const raw = context(key);
  if (raw === undefined) return undefined;
  if (raw !== 'true' && raw !== 'false') throw new Error(`context ${key} must be true or false, got ${JSON.stringify(raw)}`);
  return raw === 'true';
};
const list = (key: string) => context(key)?.split(',').map((v) => v.trim()).filter(Boolean);
const retention = number('logRetentionDays');
const removal = context('removalPolicy');
if (removal !== undefined && !['retain', 'destroy'].includes(removal)) throw new Error('context removalPolicy must be retain or destroy');

new DataHandlerStack(app, context('stackName') ?? 'DataHandler', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  batchSize: number('batchSize'),
  batchWindow: number('batchWindowSeconds') === undefined ? undefined : Duration.seconds(number('batchWindowSeconds')!),
  maxConcurrency: number('maxConcurrency'),
  dbMaxConnections: number('dbMaxConnections'),
  dbInstanceType: context('dbInstanceClass') ? new InstanceType(context('dbInstanceClass')!) : undefined,
  useRdsProxy: bool('useRdsProxy'),
  dbMultiAz: bool('multiAz'),
  deletionProtection: bool('deletionProtection'),
  removalPolicy: removal === 'destroy' ? RemovalPolicy.DESTROY : removal === 'retain' ? RemovalPolicy.RETAIN : undefined,
  logRetention: retention === undefined ? undefined : (retention as RetentionDays),
  natGateways: number('natGateways'),
  dashboard: bool('dashboard'),
  corsAllowOrigins: list('corsAllowOrigins'),
  availabilityZoneIds: list('availabilityZoneIds'),
  availabilityZones: list('availabilityZones'),
  apiGatewayAccountRole: bool('apiGatewayAccountRole'),
  readerConcurrency: number('readerConcurrency'),
  readerConnections: number('readerConnections'),
  dbEngineVersion: context('dbEngineVersion'),
  alarmEmail: context('alarmEmail'),
  retentionDays: number('retentionDays'),
  rollupRetentionDays: number('rollupRetentionDays'),
  partitionSize: context('partitionSize'),
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
