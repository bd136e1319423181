/**
 * Numbers are judged by their text: a fraction that JSON.parse would round to an integer is
 * still a fraction, and is refused at its own path.
 */
import { describe, expect, it } from 'vitest';
import { isWholeNumberToken, nullFractions, parseJsonWholeNumbers } from '../../../lambdas/core/exact-json';
import { parseUploadBody } from '../../../lambdas/core/record';

describe('whole-number tokens', () => {
  it.each(['0', '-0', '1', '2147483647', '-2147483648', '1.0', '1.000', '1e3', '1E+3', '1.5e1', '1.25e2', '150e-1', '0.0', '0e-5', '1e400', '1e99999999999999999999'])(
    'reads %s as a whole number',
    (token) => {
      expect(isWholeNumberToken(token)).toBe(true);
    },
  );

  it.each(['2147483646.9999999999', '0.5', '-0.1', '1e-1', '1.5', '15e-1', '1.0000000000000000001', '1e-400', '1e-99999999999999999999', '2147483647.00000000001'])(
    'reads %s as a fraction',
    (token) => {
      expect(isWholeNumberToken(token)).toBe(false);
    },
  );
});

describe('JSON with fractions nulled', () => {
  it('replaces only the fractions, and never inside a string', () => {
    // Arrange
    const text = '{"a":1.5,"b":"2.5 \\" 3.5","c":[1.0,-0.25e1,2.5e-1,7],"d\\\\":0.5}';
    // Act
    const out = nullFractions(text);
    // Assert
    expect(out).toBe('{"a":null,"b":"2.5 \\" 3.5","c":[1.0,null,null,7],"d\\\\":null}');
    expect(JSON.parse(out)).toEqual({ a: null, b: '2.5 " 3.5', c: [1, null, null, 7], 'd\\': null });
  });

  it.each(['{"a":1.5', '1.5.5', '[01.5]', '{"a":-}', '"1.5', '[1.5,]', '{"a":1.5e}'])('keeps invalid JSON %s invalid', (text) => {
    expect(() => parseJsonWholeNumbers(text)).toThrow(SyntaxError);
  });

  it('leaves text without fractions exactly as it was', () => {
    const text = '{"records":[{"data":-2147483648,"date":"2024-05-01T00:00:00.5Z"}]}';
    expect(nullFractions(text)).toBe(text);
  });

  it('makes a fraction that JSON.parse rounds to an int32 a validation error at its path', () => {
    // Arrange
    const text = '{"records":[{"data":1,"date":"2024-05-01T00:00:00Z"},{"data":2147483646.9999999999,"date":"2024-05-01T00:00:00Z"}]}';
    expect(JSON.parse(text).records[1].data).toBe(2147483647); // what a plain parse would store
    // Act
    const parsing = () => parseUploadBody(parseJsonWholeNumbers(text));
    // Assert
    expect(parsing).toThrow(expect.objectContaining({ status: 400, details: [{ path: 'records.1.data', message: expect.stringMatching(/must be an integer/) }] }));
  });
});
