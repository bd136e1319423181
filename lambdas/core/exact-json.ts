/**
 * JSON whose numbers are read as written. `JSON.parse` rounds a number to the nearest double,
 * so `2147483646.9999999999` arrives as the integer 2147483647 and a fraction passes an
 * integer check. Here every number token is read from the text first: one whose text is not a
 * whole number becomes `null`, which any number schema then refuses at the field's own path.
 *
 * A scan of the text rather than a reviver's `context.source`: that exists from Node 21 only,
 * and this must hold wherever the handler runs.
 */

// A JSON number token (RFC 8259), anchored where the scan stands.
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.(\d+))?(?:[eE]([+-]?\d+))?/y;

/**
 * Whether a JSON number token denotes a whole number: `1`, `1.0`, `1e3`, `1.5e1`, `-0`, but not
 * `1.5`, `1e-1` or `2147483646.9999999999`.
 */
export function isWholeNumberToken(token: string): boolean {
  const match = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(token);
  if (!match) return false;
  const [, whole = '', fraction = '', exponent = '0'] = match;
  const digits = whole + fraction;
  // Where the decimal point falls among `digits` once the exponent is applied; every digit
  // after it must be 0. An exponent too large to count is past every digit either way.
  const point = whole.length + Math.max(-digits.length - 1, Math.min(Number(exponent), digits.length + 1));
  return !/[1-9]/.test(digits.slice(Math.max(point, 0)));
}

/**
 * The text with every number token that is not a whole number replaced by `null`. Tokens are
 * only replaced by tokens, so valid JSON stays valid and invalid JSON stays invalid.
 */
export function nullFractions(text: string): string {
  let out = '';
  let copied = 0;
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c /* \ */ ? 2 : 1;
      i++;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const match = NUMBER.exec(text);
      if (!match) {
        i++;
        continue;
      }
      const end = i + match[0].length;
      if ((match[1] !== undefined || match[2] !== undefined) && !isWholeNumberToken(match[0])) {
        out += `${text.slice(copied, i)}null`;
        copied = end;
      }
      i = end;
    } else {
      i++;
    }
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** `JSON.parse`, with every number whose text is not a whole number read as `null`. */
export function parseJsonWholeNumbers(text: string): unknown {
  return JSON.parse(nullFractions(text));
}
