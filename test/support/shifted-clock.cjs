'use strict';
/**
 * A Node preload (NODE_OPTIONS=--require <this file>) that puts a process on a shifted clock, for
 * e2e tests that need started processes near an instant such as midnight UTC.
 *
 * TEST_CLOCK_START (an ISO instant) is what the clock reads at the real instant TEST_CLOCK_REAL_START
 * (epoch ms of the real clock). Every process given the same two values reads the same time, whenever
 * it started: shifted = real + (TEST_CLOCK_START - TEST_CLOCK_REAL_START).
 *
 * Only Date is faked (@sinonjs/fake-timers, toFake ['Date']): setTimeout, setInterval, performance
 * and hrtime stay real, so timers and durations behave as without the preload. The library's own
 * advancing (shouldAdvanceTime) adds a fixed step per real interval and falls behind whenever the
 * event loop is late; instead a real interval sets the fake clock from the real one with
 * clock.setSystemTime (which moves Date without firing anything), so the shifted clock runs at real
 * speed without drift, in steps of STEP_MS.
 */
const FakeTimers = require('@sinonjs/fake-timers');

const STEP_MS = 2;

const start = Date.parse(process.env.TEST_CLOCK_START ?? '');
const realStart = Number(process.env.TEST_CLOCK_REAL_START);
if (Number.isNaN(start) || !Number.isFinite(realStart)) {
  throw new Error('shifted-clock.cjs: TEST_CLOCK_START (an ISO instant) and TEST_CLOCK_REAL_START (epoch ms) are required');
}
const offset = start - realStart;
const realNow = Date.now.bind(Date); // the native one, taken before the install replaces Date

const clock = FakeTimers.install({ now: realNow() + offset, toFake: ['Date'] });
setInterval(() => clock.setSystemTime(realNow() + offset), STEP_MS).unref();
