/**
 * Writing the local stack's state files (DATA_DIR): private, and whole or not at all. Imports
 * nothing but node:, so the command-line tools load it without the stack's SDK clients.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';

/**
 * Writes `value` as JSON to `file`, private (0600): a scratch file of a name no other writer
 * uses (this process, a random part), then a rename, so a reader sees the old file or the new,
 * never half of one.
 */
export async function writeStateFile(file: string, value: unknown): Promise<void> {
  const scratch = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(scratch, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await rename(scratch, file);
  } finally {
    await rm(scratch, { force: true });
  }
}
