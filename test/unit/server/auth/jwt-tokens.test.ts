import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { JwtTokens, jwtOptionsFromFiles, type JwtSignMethod } from '../../../../node/server/auth/jwt-tokens.js';

function keys(method: JwtSignMethod): { publicKey: import('node:crypto').KeyObject; privateKey: import('node:crypto').KeyObject } {
  return method.startsWith('ES') ? generateKeyPairSync('ec', { namedCurve: method === 'ES256' ? 'P-256' : method === 'ES384' ? 'P-384' : 'P-521' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
}

describe('JWT tokens', () => {
  for (const method of ['RS256', 'PS256', 'ES256', 'ES384'] as const) {
    it(`${method}: a token names its user on any member with the public key, with etcd's claims`, () => {
      const { publicKey, privateKey } = keys(method);
      let now = 1_000_000;
      const issuer = new JwtTokens({ signMethod: method, publicKey, privateKey, ttlMs: 60_000 }, () => now);
      const verifier = new JwtTokens({ signMethod: method, publicKey, ttlMs: 60_000 }, () => now);
      const token = issuer.generate('alice', 7);
      const [header, claims] = token.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>);
      assert.deepEqual(header, { alg: method, typ: 'JWT' });
      assert.deepEqual(claims, { username: 'alice', revision: 7, exp: 1060 });
      assert.equal(verifier.user(token), 'alice');
      now += 60_000;
      assert.equal(verifier.user(token), undefined, 'expired');
    });
  }

  it('refuses tampered claims, another key, another algorithm, and issuing without a private key', () => {
    const { publicKey, privateKey } = keys('RS256');
    const tokens = new JwtTokens({ signMethod: 'RS256', publicKey, privateKey, ttlMs: 60_000 });
    const token = tokens.generate('alice', 1);
    const [h, , s] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ username: 'root', revision: 1, exp: 9e9 })).toString('base64url')}.${s}`;
    assert.equal(tokens.user(forged), undefined);
    const other = keys('RS256');
    assert.equal(new JwtTokens({ signMethod: 'RS256', publicKey: other.publicKey, ttlMs: 1 }).user(token), undefined);
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${token.split('.')[1]}.`;
    assert.equal(tokens.user(none), undefined);
    assert.equal(tokens.user('not.a.jwt'), undefined);
    assert.throws(() => new JwtTokens({ signMethod: 'RS256', publicKey, ttlMs: 1 }).generate('a', 1), /no JWT private key/);
  });

  it('reads PEM key files and refuses keys of the wrong family', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvorum-jwt-'));
    const { publicKey, privateKey } = keys('ES256');
    const pub = join(dir, 'pub.pem');
    const priv = join(dir, 'priv.pem');
    writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const opts = jwtOptionsFromFiles({ signMethod: 'ES256', pubKeyFile: pub, privKeyFile: priv, ttlMs: 1000 });
    assert.equal(new JwtTokens(opts).user(new JwtTokens(opts).generate('bob', 2)), 'bob');
    assert.throws(() => jwtOptionsFromFiles({ signMethod: 'RS256', pubKeyFile: pub, ttlMs: 1000 }), /needs RSA keys/);
  });
});
