/**
 * `npm run deploy:localstack`: deploys what LocalStack's free image supports (see
 * lib/localstack-stack.ts) with cdklocal.
 */
import { App } from 'aws-cdk-lib';
import { LocalStackStack } from '../lib/localstack-stack';

const app = new App();
new LocalStackStack(app, 'DataHandlerLocal', { env: { account: '000000000000', region: 'us-east-1' } });
