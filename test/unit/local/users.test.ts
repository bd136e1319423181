/**
 * The local users' rules: Cognito's username shape, the CLI's password length, and the scrypt
 * hash format (parameters and salt stored with the hash).
 */
import { describe, expect, it } from 'vitest';
import { checkPassword, hashPassword, usernameProblem, UsersFileError, verifyPassword, WeakPasswordError } from '../../../local/users';

const FAST = { ln: 10, r: 8, p: 1 };

describe('local usernames', () => {
  it.each([
    ['alice'],
    ['alice@example.com'],
    ['Zoë-ünïcødé_42'],
    ['x'.repeat(128)],
    ['日本語'],
  ])('accepts %j, as Cognito would', (name) => {
    expect(usernameProblem(name)).toBeUndefined();
  });

  it.each([
    ['', /empty/],
    ['x'.repeat(129), /129 characters long, more than 128/],
    ['a b', /whitespace \(U\+0020\) at character 2/],
    ['tab\there', /whitespace \(U\+0009\) at character 4/],
    ['bell\u0007', /control character \(U\+0007\) at character 5/],
    ['zero\u200bwidth', /U\+200B at character 5; only letters/],
  ])('refuses %j and says why', (name, why) => {
    expect(usernameProblem(name)).toMatch(why);
  });
});

describe('local passwords', () => {
  it('refuses a password under 8 characters, naming the minimum', () => {
    expect(() => checkPassword('seven77')).toThrow(WeakPasswordError);
    expect(() => checkPassword('seven77')).toThrow(/at least 8 characters/);
    expect(() => checkPassword('eight888')).not.toThrow();
  });

  it('hashes as a PHC scrypt string with its parameters and a 16-byte random salt', async () => {
    // Act
    const [one, two] = await Promise.all([hashPassword('correct horse', FAST), hashPassword('correct horse', FAST)]);

    // Assert
    const phc = /^\$scrypt\$ln=10,r=8,p=1\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$/;
    expect(one).toMatch(phc);
    expect(two).toMatch(phc);
    expect(phc.exec(one)![1]).not.toBe(phc.exec(two)![1]);
    expect(one).not.toContain('correct horse');
  });

  it('uses N = 2^15, r = 8, p = 1 unless told otherwise', async () => {
    expect(await hashPassword('correct horse')).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/);
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const hash = await hashPassword('correct horse', FAST);

    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('correct horsE', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
  });

  it('refuses to check a hash that is not scrypt, or asks for absurd costs', async () => {
    await expect(verifyPassword('x', 'plaintext')).rejects.toThrow(UsersFileError);
    await expect(verifyPassword('x', '$scrypt$ln=40,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).rejects.toThrow(UsersFileError);
    await expect(verifyPassword('x', '$scrypt$ln=10,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AA')).rejects.toThrow(/too short/);
  });
});
