/**
 * The ConnectionRegistry port in memory, for core tests and for writer tests that need no
 * monitor. The DynamoDB adapter itself is tested against dynalite.
 */
import { mergeMissed, type Missed } from '../../lambdas/core/frames';
import type { Connection, ConnectionRegistry } from '../../lambdas/core/ports';

export class MemoryRegistry implements ConnectionRegistry {
  constructor(public items: Connection[] = []) {}
  async add(c: Connection) {
    this.items.push(c);
  }
  async remove(id: string) {
    this.items = this.items.filter((c) => c.connectionId !== id);
  }
  async list() {
    return this.items.map((c) => ({ ...c }));
  }
  async noteMissed(id: string, missed: Missed) {
    const i = this.items.findIndex((c) => c.connectionId === id);
    if (i < 0) return false;
    const c = this.items[i]!;
    this.items[i] = { ...c, missed: mergeMissed(c.missed, missed), missedVersion: (c.missedVersion ?? 0) + 1 };
    return true;
  }
  async takeMissed(id: string) {
    const i = this.items.findIndex((c) => c.connectionId === id);
    const owed = this.items[i]?.missed;
    if (!owed) return undefined;
    const { missed: _taken, ...rest } = this.items[i]!;
    this.items[i] = { ...rest, missedVersion: (rest.missedVersion ?? 0) + 1 };
    return owed;
  }
}
