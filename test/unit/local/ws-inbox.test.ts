/**
 * A connection's messages at the local WebSocket gateway: one at a time, in order, within a
 * rate and a queue bound, refused past them. The clock is a setting, so no test waits on it.
 */
import { describe, expect, it } from 'vitest';
import { ConnectionInbox } from '../../../local/ws-inbox';

/** A run whose messages finish only when the test says so. */
function gatedRun() {
  const started: number[] = [];
  const gates: (() => void)[] = [];
  const run = (m: number) =>
    new Promise<void>((resolve) => {
      started.push(m);
      gates.push(resolve);
    });
  const finishNext = async () => {
    gates.shift()?.();
    await new Promise((r) => setImmediate(r));
  };
  return { started, run, finishNext };
}

describe('a connection inbox', () => {
  it('runs one message at a time, in the order they came', async () => {
    // Arrange
    const { started, run, finishNext } = gatedRun();
    const inbox = new ConnectionInbox<number>({ ratePerSecond: 100, burst: 100, maxQueued: 10 }, run, () => undefined);

    // Act
    for (const m of [1, 2, 3]) inbox.push(m);

    // Assert
    expect(started).toEqual([1]);
    await finishNext();
    expect(started).toEqual([1, 2]);
    await finishNext();
    expect(started).toEqual([1, 2, 3]);
  });

  it('refuses what comes past the queue bound while one runs', () => {
    // Arrange
    const { run } = gatedRun();
    const refused: number[] = [];
    const inbox = new ConnectionInbox<number>({ ratePerSecond: 1_000, burst: 1_000, maxQueued: 2 }, run, (m) => refused.push(m));

    // Act: one runs, the next two wait, the rest are refused.
    for (let m = 1; m <= 6; m++) inbox.push(m);

    // Assert
    expect(refused).toEqual([4, 5, 6]);
  });

  it('refuses past the burst and takes messages again as the rate refills', async () => {
    // Arrange
    let now = 0;
    const ran: number[] = [];
    const refused: number[] = [];
    const inbox = new ConnectionInbox<number>(
      { ratePerSecond: 10, burst: 3, maxQueued: 100 },
      async (m) => void ran.push(m),
      (m) => refused.push(m),
      () => now,
    );

    // Act
    for (let m = 1; m <= 5; m++) inbox.push(m);
    now += 200; // two tokens at 10 a second
    for (let m = 6; m <= 8; m++) inbox.push(m);
    await new Promise((r) => setImmediate(r));

    // Assert
    expect(ran).toEqual([1, 2, 3, 6, 7]);
    expect(refused).toEqual([4, 5, 8]);
  });

  it('drops what waits when the connection closes, and takes nothing after', async () => {
    // Arrange
    const { started, run, finishNext } = gatedRun();
    const refused: number[] = [];
    const inbox = new ConnectionInbox<number>({ ratePerSecond: 100, burst: 100, maxQueued: 10 }, run, (m) => refused.push(m));
    inbox.push(1);
    inbox.push(2);

    // Act
    inbox.close();
    inbox.push(3);
    await finishNext();

    // Assert
    expect(started).toEqual([1]);
    expect(refused).toEqual([]);
  });
});
