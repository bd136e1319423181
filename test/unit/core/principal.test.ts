import { describe, expect, it } from 'vitest';
import { principalFromClaims } from '../../../lambdas/core/principal';

describe('principal from claims', () => {
  it('reads groups as a list (a verified token) and as "[a b]" (the HTTP API authorizer)', () => {
    expect(principalFromClaims({ sub: 'u', 'cognito:groups': ['admin'] })).toEqual({ userId: 'u', isAdmin: true });
    expect(principalFromClaims({ sub: 'u', 'cognito:groups': '[users admin]' })).toEqual({ userId: 'u', isAdmin: true });
    expect(principalFromClaims({ sub: 'u', 'cognito:groups': '[administrators]' })).toEqual({ userId: 'u', isAdmin: false });
    expect(principalFromClaims({ sub: 'u' })).toEqual({ userId: 'u', isAdmin: false });
  });

  it('has no principal without a subject', () => {
    expect(principalFromClaims({ 'cognito:groups': ['admin'] })).toBeNull();
    expect(principalFromClaims({ sub: '' })).toBeNull();
  });
});
