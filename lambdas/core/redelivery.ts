/**
 * When a message whose batch could not be stored comes back: later with every failed receive,
 * so that a database outage spends a message's receives slowly instead of sending it to the DLQ
 * within minutes.
 */

/**
 * Seconds a message waits after the receive that failed, by receive count (the last one repeats):
 * 30 s, 2 min, 6 min, 12 min, then 15 min. With 5 receives before the DLQ the waits after
 * receives 1–4 add up to 20 min 30 s: a message received at the start of an outage is tried for
 * the last time 20.5 minutes later.
 */
export const STORE_RETRY_DELAYS_S: readonly number[] = [30, 120, 360, 720, 900];

/** SQS's longest visibility timeout: 12 hours. */
const MAX_DELAY_S = 43_200;

/**
 * The shortest wait: 0 would be no delay at all, and the embedded queue (fauxqs 2.4.1 with
 * persistence) loses a message whose visibility is set to 0.
 */
const MIN_DELAY_S = 1;

/** The wait after a failed store on receive `receiveCount` (1 for the first delivery). */
export function retryDelaySeconds(receiveCount: number, schedule: readonly number[] = STORE_RETRY_DELAYS_S): number {
  if (schedule.length === 0) throw new Error('the retry schedule is empty');
  const index = Math.min(Math.max(Math.floor(receiveCount), 1), schedule.length) - 1;
  return Math.min(Math.max(Math.round(schedule[index]!), MIN_DELAY_S), MAX_DELAY_S);
}

/**
 * The longest outage every message rides out: from a message's first receive to its last one
 * (receive `maxReceiveCount`), the sum of the waits after each receive before it. A message
 * first received during an outage no longer than this is tried again after it ends.
 */
export function outageRiddenOutSeconds(maxReceiveCount: number, schedule: readonly number[] = STORE_RETRY_DELAYS_S): number {
  let total = 0;
  for (let receive = 1; receive < maxReceiveCount; receive++) total += retryDelaySeconds(receive, schedule);
  return total;
}
