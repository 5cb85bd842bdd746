// The test-host helper's pure parts (behavior.md §8.2), table-driven.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildTestOverlay,
  checkExistingOverlay,
  decideTestHost,
  formatOverlay,
  formatTestHostReport,
  testHostTags,
  testIdOf,
  testStateDirOf,
} from '../../src/pw-lib/core/test-host.js';

describe('test id (§8.2 step 1)', () => {
  const cases: [string, string | undefined, string | undefined, string | undefined][] = [
    ['--user wins over $USER', 'alice', 'bob', 'aliceTesting'],
    ['$USER when no --user', undefined, 'bob', 'bobTesting'],
    ['non-alphanumerics removed', 'j.doe-2_x', undefined, 'jdoe2xTesting'],
    ['non-ASCII letters removed', 'zoë', undefined, 'zoTesting'],
    ['empty --user is not replaced by $USER', '', 'bob', undefined],
    ['nothing left', '...', 'bob', undefined],
    ['no user at all', undefined, undefined, undefined],
    ['56 characters fit', 'a'.repeat(56), undefined, `${'a'.repeat(56)}Testing`],
    ['57 characters are too long for a purpose value', 'a'.repeat(57), undefined, undefined],
  ];
  for (const [name, flag, env, want] of cases) {
    it(name, () => {
      const r = testIdOf(flag, env);
      if (want === undefined) assert.equal(r.ok, false);
      else assert.deepEqual(r, { ok: true, id: want });
    });
  }
});

describe('overlay (§8.2 step 2)', () => {
  const dir = testStateDirOf('/home/ops/.local/state/pw-pool/MacM1-prod/', 'aliceTesting');
  const overlay = buildTestOverlay({
    id: 'aliceTesting',
    launchTemplateName: 'CirrusMacM1PWinstance',
    testStateDir: dir,
  });

  it('lives in the production state directory under test-pools/<id>', () => {
    assert.equal(dir, '/home/ops/.local/state/pw-pool/MacM1-prod/test-pools/aliceTesting');
  });

  it('holds the listed keys and pins the files and the runner group to the test pool', () => {
    assert.deepEqual(overlay, {
      namePrefix: 'aliceTesting',
      purposeValue: 'aliceTesting',
      launchTemplateName: 'CirrusMacM1PWinstance',
      maxLifetimeSeconds: 259200,
      hardLifetimeSeconds: 518400,
      maxFinishedTasks: 9999,
      stateDir: dir,
      cron: { logFile: `${dir}/Cron.log` },
      metrics: { textfilePath: `${dir}/pw-pool.prom` },
      github: { runnerGroup: 'aliceTesting' },
    });
  });

  const reordered = JSON.stringify({ ...overlay, namePrefix: undefined, zz: undefined }).replace(
    '{',
    '{"namePrefix":"aliceTesting",',
  );
  const checks: [string, string | undefined, string][] = [
    ['no file', undefined, 'absent'],
    ['the same text', formatOverlay(overlay), 'same'],
    ['the same values in another key order', reordered, 'same'],
    ['another value', formatOverlay({ ...overlay, maxFinishedTasks: 24 }), 'different'],
    ['an extra key', JSON.stringify({ ...overlay, region: 'eu-west-1' }), 'different'],
    ['not JSON', '{', 'different'],
  ];
  for (const [name, existing, kind] of checks) {
    it(`existing overlay: ${name} → ${kind}`, () => {
      assert.equal(checkExistingOverlay(existing, overlay).kind, kind);
    });
  }
});

describe('host decision (§8.2 step 3)', () => {
  const h = (hostId: string, state: string, name = 'aliceTesting-0') => ({
    hostId,
    state,
    tags: { Name: name },
  });
  const cases: [string, ReturnType<typeof h>[], string, string | undefined][] = [
    ['none: allocate', [], 'allocate', undefined],
    [
      'only released ones: allocate',
      [h('h-1', 'released'), h('h-2', 'released-permanent-failure')],
      'allocate',
      undefined,
    ],
    ['available: reuse', [h('h-1', 'available')], 'reuse', 'h-1'],
    ['pending: retry later', [h('h-1', 'pending')], 'pending', 'h-1'],
    ['available wins over pending', [h('h-1', 'pending'), h('h-2', 'available')], 'reuse', 'h-2'],
    ['under-assessment: reused as is', [h('h-1', 'under-assessment')], 'reuse', 'h-1'],
    ['another name: allocate', [h('h-1', 'available', 'aliceTesting-1')], 'allocate', undefined],
  ];
  for (const [name, hosts, kind, hostId] of cases) {
    it(name, () => {
      const d = decideTestHost(hosts, 'aliceTesting-0');
      assert.equal(d.kind, kind);
      assert.equal(d.kind === 'allocate' ? undefined : d.host.hostId, hostId);
    });
  }

  it('tags the host for its own pool, ready, not automation', () => {
    assert.deepEqual(testHostTags('aliceTesting', 'purpose'), {
      Name: 'aliceTesting-0',
      purpose: 'aliceTesting',
      PWPoolReady: 'true',
      automation: 'false',
    });
  });
});

describe('report (§8.2 step 5)', () => {
  const lines = formatTestHostReport({
    id: 'aliceTesting',
    overlayPath: '/s/test-pools/aliceTesting/overlay.json',
    testStateDir: '/s/test-pools/aliceTesting',
    hostId: 'h-0123456789abcdef0',
    instanceId: 'i-0123456789abcdef0',
    region: 'us-east-1',
    allocationTimeS: Date.parse('2024-08-06T14:10:03Z') / 1000,
  });
  const text = lines.join('\n');
  for (const want of [
    'pw-pool --overlay /s/test-pools/aliceTesting/overlay.json setup-instances',
    'pw-pool --overlay /s/test-pools/aliceTesting/overlay.json ssh aliceTesting-0',
    "label 'purpose: aliceTesting'",
    'runs-on: { group: aliceTesting }',
    'aws ec2 --region us-east-1 terminate-instances --instance-ids i-0123456789abcdef0',
    'not before 2024-08-07T14:10:03+00:00',
    'aws ec2 --region us-east-1 release-hosts --host-ids h-0123456789abcdef0',
    'runner groups aliceTesting and aliceTesting-draining',
    "rm -r '/s/test-pools/aliceTesting'",
    '$0.65/h',
  ]) {
    it(`says ${want}`, () => assert.ok(text.includes(want), text));
  }
  it('has no double spaces inside a line', () => {
    for (const l of lines) assert.doesNotMatch(l.trimStart(), / {2}/, l);
  });
});
