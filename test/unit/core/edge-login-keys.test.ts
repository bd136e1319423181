/**
 * What the failed-login limit counts as one user and as one address.
 */
import { describe, expect, it } from 'vitest';
import { addressKey, userKey } from '../../../lambdas/core/login-limit';

describe('login limit keys', () => {
  it.each([
    ['203.0.113.7', 'address:203.0.113.7'],
    ['::ffff:203.0.113.7', 'address:203.0.113.7'],
    ['2001:db8:1:2::1', 'address:2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff:ffff:ffff:ffff', 'address:2001:db8:1:2::/64'],
    ['2001:DB8:1:2:3:4:5:6', 'address:2001:db8:1:2::/64'],
    ['2001:db8::1', 'address:2001:db8:0:0::/64'],
    ['::1', 'address:0:0:0:0::/64'],
    ['fe80::1:2:3:4', 'address:fe80:0:0:0::/64'],
  ])('counts the address %s as %s', (ip, key) => {
    expect(addressKey(ip)).toBe(key);
  });

  it('counts one username whatever its case, width or surrounding spaces', () => {
    const keys = new Set(['parsa', 'PARSA', ' Parsa ', 'ｐａｒｓａ'].map(userKey));
    expect([...keys]).toEqual(['user:parsa']);
  });

  it('keeps different usernames apart', () => {
    expect(userKey('parsa')).not.toBe(userKey('parsa2'));
  });
});
