/**
 * Splits a list into JSON documents that each stay under a byte limit. Queue messages (1 MiB)
 * and monitoring frames (128 KB) are both built with it.
 */

const encoder = new TextEncoder();

/** UTF-8 size of a string in bytes. */
export function byteLength(text: string): number {
  return encoder.encode(text).length;
}

/**
 * Packs `items` greedily, in order, into documents `render(part)`, each at most `maxBytes`.
 * `render` must wrap the items as a JSON array inside a fixed envelope, so a document's size
 * is the envelope plus the items plus their commas. Throws when one item alone cannot fit.
 */
export function chunkBySize<T>(items: readonly T[], maxBytes: number, render: (part: T[]) => string): string[] {
  if (items.length === 0) return [];
  const envelope = byteLength(render([]));
  const documents: string[] = [];
  let part: T[] = [];
  let size = envelope;
  for (const item of items) {
    const itemBytes = byteLength(JSON.stringify(item));
    const added = part.length === 0 ? itemBytes : itemBytes + 1; // the comma
    if (envelope + itemBytes > maxBytes) {
      throw new RangeError(`one item of ${itemBytes} bytes cannot fit in ${maxBytes} bytes`);
    }
    if (size + added > maxBytes) {
      documents.push(render(part));
      part = [];
      size = envelope;
    }
    size += part.length === 0 ? itemBytes : itemBytes + 1;
    part.push(item);
  }
  documents.push(render(part));
  return documents;
}
