/**
 * Root hooks of the whole suite (mocha runs a top-level before/after once,
 * around every file). The bridge and the NAT chain stay between containers by
 * design (lesson 04's README: as docker0 does), so the runs of the suite leave
 * them; the suite as a whole still leaves the machine as it found it: if there
 * was no bridge before, it is taken down at the end, as `cellblock cleanup`
 * would — only while no container holds a lease.
 */
import { sweepNetwork } from '../src/core/net/ipam.js';
import { bridgeExists } from '../src/workshop/probe.js';

let bridgeBefore = true;

before(function () {
  bridgeBefore = bridgeExists();
});

after(function () {
  if (!bridgeBefore && process.getuid?.() === 0) sweepNetwork();
});
