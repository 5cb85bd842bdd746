import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/sim/clock.js';
import { SeededRandom } from '../../src/sim/random.js';

const T0 = new Date('2024-08-06T12:00:00.000Z');

function fakeReal(): { now: () => number; pass: (ms: number) => void } {
  let real = 1000;
  return { now: () => real, pass: (ms) => (real += ms) };
}

describe('VirtualClock', () => {
  test('starts at the given instant and runs at speed × real time', () => {
    const real = fakeReal();
    const clock = new VirtualClock({ start: T0, speed: 60, realNowMs: real.now });
    assert.equal(clock.now().toISOString(), T0.toISOString());
    real.pass(1000);
    assert.equal(clock.now().toISOString(), '2024-08-06T12:01:00.000Z');
  });

  test('advance jumps forward and notifies listeners; speed changes never jump', () => {
    const real = fakeReal();
    const clock = new VirtualClock({ start: T0, speed: 1, realNowMs: real.now });
    const seen: string[] = [];
    clock.onChange((c) => seen.push(`${c.kind}@${new Date(c.nowMs).toISOString()}`));
    assert.equal(clock.advance(7200).toISOString(), '2024-08-06T14:00:00.000Z');
    real.pass(2000);
    clock.setSpeed(0);
    real.pass(60_000);
    assert.equal(clock.now().toISOString(), '2024-08-06T14:00:02.000Z');
    assert.equal(clock.speed, 0);
    assert.deepEqual(seen, ['advance@2024-08-06T14:00:00.000Z', 'speed@2024-08-06T14:00:02.000Z']);
  });

  test('realDelayUntil converts virtual distance to real milliseconds', () => {
    const real = fakeReal();
    const clock = new VirtualClock({ start: T0, speed: 10, realNowMs: real.now });
    assert.equal(clock.realDelayUntil(T0.getTime() + 60_000), 6000);
    assert.equal(clock.realDelayUntil(T0.getTime() - 1), 0);
    clock.setSpeed(0);
    assert.equal(clock.realDelayUntil(T0.getTime() + 1), undefined);
  });

  test('rejects negative advances and speeds', () => {
    const clock = new VirtualClock({ start: T0 });
    assert.throws(() => clock.advance(-1), RangeError);
    assert.throws(() => clock.setSpeed(-2), RangeError);
    assert.throws(() => new VirtualClock({ speed: Number.NaN }), RangeError);
  });

  test('defaults to the real current time', () => {
    const before = Date.now();
    const now = new VirtualClock().nowMs();
    assert.ok(Math.abs(now - before) < 5000);
  });
});

describe('SeededRandom', () => {
  test('the same seed gives the same sequence', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    assert.deepEqual([a.hex(17), a.next(), a.uuid()], [b.hex(17), b.next(), b.uuid()]);
    assert.notEqual(new SeededRandom(43).hex(17), new SeededRandom(42).hex(17));
  });

  test('produces well-formed hex and uuids', () => {
    const r = new SeededRandom(7);
    assert.match(r.hex(17), /^[0-9a-f]{17}$/);
    assert.match(r.uuid(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    for (let i = 0; i < 1000; i++) {
      const x = r.between(5, 20);
      assert.ok(x >= 5 && x <= 20);
    }
  });
});
