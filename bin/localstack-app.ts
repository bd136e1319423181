/**
 * `npm run deploy:localstack`: deploys what LocalStack's free image supports (see
 * lib/localstack-stack.ts) with cdklocal. The writer pushes to the WebSocket gateway of
 * `LOCAL_SERVICES=compose npm start`, on the port that the same configuration gives it.
 */
import { App } from 'aws-cdk-lib';
import { dockerHostConnectionsEndpoint, LocalStackStack } from '../lib/localstack-stack';
import { localConfigFromEnv } from '../local/config';

const { WS_PORT } = localConfigFromEnv();
if (WS_PORT === 0) {
  throw new Error('WS_PORT=0 picks a random port at each start, which a deployed writer cannot follow; set a fixed WS_PORT');
}
const app = new App();
new LocalStackStack(app, 'DataHandlerLocal', {
  env: { account: '000000000000', region: 'us-east-1' },
  connectionsEndpoint: dockerHostConnectionsEndpoint(WS_PORT),
});
