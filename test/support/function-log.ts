/**
 * The JSON log lines one function printed, from the output the local stack prefixes with each
 * function's name (`[batch-writer] {…}`).
 */
export function functionLines(output: readonly string[], name: string): Record<string, unknown>[] {
  return output.flatMap((line) => {
    const json = line.slice(line.indexOf('{'));
    if (!line.startsWith(`[${name}]`) || !json.startsWith('{')) return [];
    try {
      return [JSON.parse(json) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}
