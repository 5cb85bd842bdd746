// pino logging: JSON with fixed fields, and every secret-bearing field redacted.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createLogger } from '../../src/pw-lib/log.js';

function capture(): { lines: Record<string, unknown>[]; stream: { write(s: string): void } } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    stream: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  };
}

it('writes JSON with an ISO time, a level label and no pid/hostname', () => {
  const { lines, stream } = capture();
  const log = createLogger({ level: 'info', destination: stream });
  log.child({ host: 'MacM1-1', hostId: 'h-1' }).info({ instanceId: 'i-1' }, 'instance launched');
  log.debug('not shown at info');
  assert.equal(lines.length, 1);
  const [line] = lines;
  assert.equal(line?.level, 'info');
  assert.equal(line?.msg, 'instance launched');
  assert.equal(line?.host, 'MacM1-1');
  assert.equal(line?.instanceId, 'i-1');
  assert.match(String(line?.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal('pid' in (line ?? {}), false);
  assert.equal('hostname' in (line ?? {}), false);
});

it('redacts secrets at the top level and one level down', () => {
  const { lines, stream } = capture();
  const log = createLogger({ level: 'info', destination: stream });
  const secret = 'ghs_0123456789abcdefSECRET';
  log.info(
    {
      token: secret,
      registrationToken: secret,
      request: { headers: { authorization: `Bearer ${secret}` }, token: secret },
      github: { privateKey: secret, installationToken: secret },
      env: { POOLTOKEN: secret, GITHUB_TOKEN: secret },
    },
    'secrets everywhere',
  );
  const text = JSON.stringify(lines);
  assert.ok(!text.includes(secret), text);
  assert.equal(lines[0]?.token, '[redacted]');
});
