/**
 * `npm run migrate`: applies the versioned migrations to DATABASE_URL (or to the PostgreSQL of
 * docker-compose.localstack.yml when LOCAL_SERVICES=compose).
 */
import { migrateUp } from '../lambdas/adapters/migrations';
import { localConfigFromEnv } from '../local/config';

const url = localConfigFromEnv().DATABASE_URL;
if (!url) {
  console.error('Set DATABASE_URL (or LOCAL_SERVICES=compose). `npm start` migrates its embedded PostgreSQL itself.');
  process.exit(2);
}
try {
  const ran = await migrateUp(url);
  console.log(ran.length ? `applied: ${ran.join(', ')}` : 'schema up to date');
} catch (error) {
  console.error(`migration failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
