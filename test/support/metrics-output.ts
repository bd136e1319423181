/**
 * Powertools metrics switched on for one test file, and what a handler writes collected rather
 * than printed. The test configuration disables metrics (POWERTOOLS_METRICS_DISABLED), and
 * Metrics reads that variable when it is built, at import: so the handler modules are imported
 * afresh once it is unset.
 */
import { vi } from 'vitest';

/** One line in CloudWatch's embedded metric format (EMF): definitions, then the values. */
export interface EmfBlob {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit: string }[];
    }[];
  };
  readonly [key: string]: unknown;
}

/**
 * Unsets POWERTOOLS_METRICS_DISABLED and imports `load` afresh, as in an on-demand Lambda
 * environment (Powertools counts a cold start only there). The variables stay stubbed, because
 * the cold-start metric is built when it happens: call `vi.unstubAllEnvs()` in afterAll.
 */
export async function importWithMetrics<T>(load: () => Promise<T>): Promise<T> {
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', undefined);
  vi.stubEnv('AWS_LAMBDA_INITIALIZATION_TYPE', 'on-demand');
  vi.resetModules();
  return load();
}

/** Runs `act` with stdout and stderr captured: the EMF blobs apart, every other line as text. */
export async function outputOf(act: () => Promise<unknown>): Promise<{ emf: EmfBlob[]; otherLines: string[] }> {
  const written: string[] = [];
  const capture = (chunk: string | Uint8Array) => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  const spies = [vi.spyOn(process.stdout, 'write').mockImplementation(capture), vi.spyOn(process.stderr, 'write').mockImplementation(capture)];
  try {
    await act();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  const emf: EmfBlob[] = [];
  const otherLines: string[] = [];
  for (const line of written.join('').split('\n').filter((l) => l.trim() !== '')) {
    const blob = parseEmf(line);
    if (blob) emf.push(blob);
    else otherLines.push(line);
  }
  return { emf, otherLines };
}

/** The metric names a blob defines. */
export function metricNames(blob: EmfBlob): string[] {
  return blob._aws.CloudWatchMetrics.flatMap((d) => d.Metrics.map((m) => m.Name));
}

function parseEmf(line: string): EmfBlob | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && '_aws' in value ? (value as EmfBlob) : undefined;
  } catch {
    return undefined;
  }
}
